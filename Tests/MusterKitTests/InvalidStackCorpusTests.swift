import Foundation
import Testing
@testable import MusterKit

/// Every broken stack file in Tests/Fixtures/invalid is refused with exactly the
/// first line listed in expected.tsv: a `FILE:LINE:COLUMN` and a clear message.
@Suite struct InvalidStackCorpusTests {
    static let folder: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/invalid").path
    }()

    static let cases: [(file: String, headline: String)] = {
        let text = (try? String(contentsOfFile: folder + "/expected.tsv", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }()

    @Test func corpusIsLarge() {
        #expect(Self.cases.count >= 60)
    }

    @Test(arguments: cases.map(\.file))
    func refusedWithLocation(_ file: String) throws {
        let expected = try #require(Self.cases.first { $0.file == file }?.headline)
        var environment = ProcessInfo.processInfo.environment
        environment["MUSTER_CORPUS_UNSET_VAR"] = nil
        let path = Self.folder + "/" + file
        do {
            guard let yaml = try? String(contentsOfFile: path, encoding: .utf8) else {
                // Not UTF-8: go through load(), which refuses it.
                _ = try StackLoader.load(path: path, environment: environment)
                Issue.record("\(file) was accepted")
                return
            }
            _ = try StackLoader.parse(yaml: yaml, file: file, directory: Self.folder, environment: environment)
            Issue.record("\(file) was accepted")
        } catch let error as MusterError {
            #expect(error.exitCode == 2)
            #expect(error.location != nil)
            let headline = error.headline.replacingOccurrences(of: path, with: file)
            #expect(headline == expected)
        }
    }

    @Test func hugeFileIsRefusedBeforeParsing() throws {
        let path = NSTemporaryDirectory() + "muster-huge-\(UInt32.random(in: 0...UInt32.max)).yaml"
        let filler = String(repeating: "# padding line to make the file large\n", count: 60_000)
        try ("services:\n  a:\n    command: sleep 1\n" + filler).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: MusterError.self) { try StackLoader.load(path: path) }
        do { _ = try StackLoader.load(path: path) } catch let error as MusterError {
            #expect(error.message.contains("the limit is 2048 KiB"))
            #expect(error.location?.line == 1)
        }
    }
}
