import Foundation
import Testing
@testable import MusterKit

/// Several `-f` files merge in order, later wins, with errors naming their own file.
@Suite struct StackMergeTests {
    func write(_ files: [String: String]) throws -> String {
        let directory = NSTemporaryDirectory() + "muster-merge-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
        return directory
    }

    @Test func laterFilesOverrideKeyByKey() throws {
        let dir = try write([
            "base.yaml":
                "name: m\nservices:\n  a:\n    command: [\"sleep\", \"1\"]\n    env: { A: base, B: base }\n    depends_on: [b]\n  b:\n    command: [\"sleep\", \"1\"]\n",
            "over.yaml":
                "name: m2\nservices:\n  a:\n    env: { B: over }\n    depends_on: { c: started }\n  c:\n    command: \"sleep 2\"\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stack = try StackLoader.load(paths: [dir + "/base.yaml", dir + "/over.yaml"], environment: [:])
        #expect(stack.name == "m2")
        #expect(stack.serviceNames == ["a", "b", "c"])
        let a = try #require(stack.service(named: "a"))
        let env = Dictionary(uniqueKeysWithValues: a.env.map { ($0.key, $0.value.resolve { _, _ in nil }) })
        #expect(env == ["A": "base", "B": "over"])
        #expect(a.dependsOn.map(\.service) == ["c"], "lists are replaced, not appended")
        #expect(stack.files.count == 2)
        #expect(stack.directory == dir)
    }

    @Test func errorsNameTheFileTheyAreIn() throws {
        let dir = try write([
            "base.yaml": "name: m\nservices:\n  a:\n    command: [\"true\"]\n",
            "over.yaml": "# comment\n\nservices:\n  a:\n    restrat: always\n",
            "broken.yaml": "services:\n  a: [unclosed\n",
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try StackLoader.load(paths: [dir + "/base.yaml", dir + "/over.yaml"], environment: [:])
            Issue.record("accepted")
        } catch let error as MusterError {
            #expect(error.headline.hasPrefix(dir + "/over.yaml:5:5: unknown key \"restrat\""), "\(error.headline)")
        }
        do {
            _ = try StackLoader.load(paths: [dir + "/base.yaml", dir + "/broken.yaml"], environment: [:])
            Issue.record("accepted")
        } catch let error as MusterError {
            #expect(error.headline.hasPrefix(dir + "/broken.yaml:"), "\(error.headline)")
            #expect(error.exitCode == 2)
        }
    }
}
