import Foundation

/// Reads tests, with their wall-clock intervals, from the files test runners
/// write. `read(_:)` tells the format from the content:
/// - Playwright's JSON reporter (`{"suites": [...]}`): one test per result
///   (retries are attempts of their own), id `file › describe › title`.
/// - JUnit XML (`<testsuites>`/`<testsuite>`): see `JUnitReader`.
/// - `go test -json`: a test runs from its `run` action to its `pass`, `fail` or
///   `skip`; id `Package/Test`.
/// - muster's own tests file (JSON lines with `id`, `outcome`, `start`, `end`).
///
/// Every failure is a `MusterError(.usage)` whose one line names the file and what is wrong.
public enum TestReportReader {
    public static func read(_ path: String) throws -> [TestRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot be read (check its permissions)" : "does not exist"
            throw problem(path, "\(why); --tests takes a Playwright JSON report, a JUnit XML file or go test -json output")
        }
        guard let first = data.first(where: { ![9, 10, 13, 32].contains($0) }) else {
            throw problem(path, "is empty; did the test runner write its report there?")
        }
        switch first {
        case UInt8(ascii: "<"):
            return try JUnitReader.read(data, file: path)
        case UInt8(ascii: "{"):
            // JSON lines (go test -json, muster's tests file) have a whole object on line 1;
            // Playwright writes one indented document.
            // A long first line is a whole document on one line: Playwright's, not worth parsing twice.
            let firstLine = data.withUnsafeBytes { bytes in
                memchr(bytes.baseAddress!, 10, bytes.count).map { UnsafeRawPointer($0) - bytes.baseAddress! } ?? bytes.count
            }
            if firstLine < 1 << 16, let object = (try? JSONSerialization.jsonObject(with: data.prefix(firstLine))) as? [String: Any] {
                if object["Action"] != nil { return try goTest(data, file: path) }
                if object["id"] != nil && object["start"] != nil { return try testsLines(data, file: path) }
                if object["suites"] != nil { return try playwright(data, file: path) }
                throw problem(path, "is JSON but neither a Playwright report (no \"suites\") nor go test -json (no \"Action\")")
            }
            return try playwright(data, file: path)
        default:
            throw problem(path, "is not a Playwright JSON report, a JUnit XML file or go test -json output")
        }
    }

    /// The file `muster run` gives CMD as `MUSTER_TESTS_FILE`. Lines that are not
    /// whole test objects (a write cut short) are skipped and counted.
    public static func readTestsFile(_ path: String) -> (tests: [TestRecord], skipped: Int) {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return ([], 0) }
        let decoder = JSONDecoder()
        decoder.userInfo[TestRecord.defaultSource] = "pytest"
        // Usually every line is whole: one decode of them all as a JSON array.
        var lines: [Data] = []
        forEachLine(data) { line, _ in lines.append(line); return true }
        var array = Data()
        array.reserveCapacity(data.count + 2)
        array.append(UInt8(ascii: "["))
        for (index, line) in lines.enumerated() {
            if index > 0 { array.append(UInt8(ascii: ",")) }
            array.append(line)
        }
        array.append(UInt8(ascii: "]"))
        if let tests = try? decoder.decode([TestRecord].self, from: array) { return (tests, 0) }
        var tests: [TestRecord] = []
        var skipped = 0
        for line in lines {
            if let test = try? decoder.decode(TestRecord.self, from: line) { tests.append(test) } else { skipped += 1 }
        }
        return (tests, skipped)
    }

    static func problem(_ path: String, _ text: String) -> MusterError {
        MusterError(.usage, "--tests \(path): \(text)")
    }

    /// Calls `body` with each non-blank line (without its newline) and its 1-based number; stops when it returns false.
    static func forEachLine(_ data: Data, _ body: (Data, Int) throws -> Bool) rethrows {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard let base = buffer.baseAddress else { return }
            var number = 0
            var offset = 0
            while offset < buffer.count {
                let end = memchr(base + offset, 10, buffer.count - offset).map { UnsafeRawPointer($0) - base } ?? buffer.count
                number += 1
                var first = offset
                while first < end, buffer[first] == 9 || buffer[first] == 13 || buffer[first] == 32 { first += 1 }
                if first < end {
                    guard try body(Data(bytes: base + offset, count: end - offset), number) else { return }
                }
                offset = end + 1
            }
        }
    }

    /// Whether `needle` occurs in `data` (memchr for its first byte, then memcmp).
    static func contains(_ data: Data, _ needle: [UInt8]) -> Bool {
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            guard let base = bytes.baseAddress, !needle.isEmpty, bytes.count >= needle.count else { return false }
            var offset = 0
            let last = bytes.count - needle.count
            while offset <= last, let hit = memchr(base + offset, Int32(needle[0]), last - offset + 1) {
                let at = UnsafeRawPointer(hit) - base
                if memcmp(hit, needle, needle.count) == 0 { return true }
                offset = at + 1
            }
            return false
        }
    }

    // MARK: - muster's tests file given as --tests

    static func testsLines(_ data: Data, file: String) throws -> [TestRecord] {
        let decoder = JSONDecoder()
        decoder.userInfo[TestRecord.defaultSource] = "pytest"
        var tests: [TestRecord] = []
        try forEachLine(data) { line, number in
            guard let test = try? decoder.decode(TestRecord.self, from: line) else {
                throw problem(file, "line \(number) is not a test object with id, outcome, start and end")
            }
            tests.append(test)
            return true
        }
        return tests
    }

    // MARK: - Playwright

    /// What muster reads of Playwright's JSON reporter output; the rest is skipped.
    struct PlaywrightReport: Decodable {
        struct Suite: Decodable {
            var title: String?
            var file: String?
            var specs: [Spec]?
            var suites: [Suite]?
        }
        struct Spec: Decodable {
            var title: String?
            var file: String?
            var tests: [Test]?
        }
        struct Test: Decodable {
            var projectName: String?
            var results: [Result]?
        }
        struct Result: Decodable {
            var workerIndex: Int?
            var status: String?
            var duration: Double?
            var startTime: String?
            var retry: Int?
        }
        var suites: [Suite]?
    }

    static func playwright(_ data: Data, file: String) throws -> [TestRecord] {
        let report: PlaywrightReport
        do {
            report = try JSONDecoder().decode(PlaywrightReport.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            let place = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            throw problem(file, "is not a Playwright JSON report: \(place.isEmpty ? "the top" : place) is not \(type == String.self ? "a string" : "what Playwright writes")")
        } catch {
            throw problem(file, "is not valid JSON; expected a Playwright JSON report (reporter: [['json', {outputFile: ...}]])")
        }
        guard let suites = report.suites else {
            throw problem(file, "is JSON but not a Playwright report (no \"suites\")")
        }
        var projects: Set<String> = []
        collectProjects(suites, into: &projects)
        var tests: [TestRecord] = []
        try walk(suites, path: [], file: file, namedProjects: projects.count > 1, into: &tests)
        return tests
    }

    private static func collectProjects(_ suites: [PlaywrightReport.Suite], into projects: inout Set<String>) {
        for suite in suites {
            for spec in suite.specs ?? [] {
                for test in spec.tests ?? [] { if let name = test.projectName { projects.insert(name) } }
            }
            collectProjects(suite.suites ?? [], into: &projects)
        }
    }

    private static func walk(_ suites: [PlaywrightReport.Suite], path: [String], file reportFile: String, namedProjects: Bool,
                             into tests: inout [TestRecord]) throws {
        for suite in suites {
            var path = path
            let title = suite.title ?? ""
            // The root suite of each file is titled with the file itself.
            if !title.isEmpty, title != suite.file { path.append(title) }
            for spec in suite.specs ?? [] {
                let file = spec.file ?? suite.file ?? ""
                let titles = path + [spec.title ?? "?"]
                let name = ([file].filter { !$0.isEmpty } + titles).joined(separator: " › ")
                for test in spec.tests ?? [] {
                    let project = test.projectName ?? ""
                    let id = namedProjects && !project.isEmpty ? "[\(project)] \(name)" : name
                    for result in test.results ?? [] {
                        tests.append(try playwrightResult(result, id: id, file: reportFile))
                    }
                }
            }
            try walk(suite.suites ?? [], path: path, file: reportFile, namedProjects: namedProjects, into: &tests)
        }
    }

    private static func playwrightResult(_ result: PlaywrightReport.Result, id: String, file: String) throws -> TestRecord {
        guard let startText = result.startTime, let start = RFC3339.seconds(startText) else {
            throw problem(file, "the result of \"\(id)\" has no startTime (RFC 3339); muster needs it to place the test in time")
        }
        guard let duration = result.duration else {
            throw problem(file, "the result of \"\(id)\" has no duration (milliseconds)")
        }
        let retry = result.retry ?? 0
        let outcome: String
        switch result.status {
        case "passed"?: outcome = "passed"
        case "skipped"?: outcome = "skipped"
        default: outcome = "failed"  // failed, timedOut, interrupted
        }
        return TestRecord(id: retry > 0 ? "\(id) (retry \(retry))" : id, outcome: outcome, start: start,
                          end: start + max(0, duration) / 1000, worker: result.workerIndex.map { "w\($0)" } ?? "main",
                          source: "playwright")
    }

    // MARK: - go test -json

    static func goTest(_ data: Data, file: String) throws -> [TestRecord] {
        struct Running { var start: Double; var order: Int; var package: String }
        var running: [String: Running] = [:]
        var lastTime: [String: Double] = [:]
        var finished: [(order: Int, test: TestRecord)] = []
        var order = 0
        struct Event: Decodable {
            var Time: String?
            var Action: String?
            var Package: String?
            var Test: String?
        }
        let decoder = JSONDecoder()
        let output = Array("\"Action\":\"output\"".utf8)
        try forEachLine(data) { line, number in
            // Output lines are most of the stream and never matter here.
            if contains(line, output) { return true }
            guard line.first == UInt8(ascii: "{") else { return true }  // build output mixed into the stream
            guard let event = try? decoder.decode(Event.self, from: line) else {
                throw problem(file, "line \(number) is not valid JSON; expected go test -json output")
            }
            guard let action = event.Action else {
                throw problem(file, "line \(number) has no \"Action\"; expected go test -json output")
            }
            let package = event.Package ?? ""
            guard let timeText = event.Time else { return true }
            guard let time = RFC3339.seconds(timeText) else {
                throw problem(file, "line \(number): \"Time\" \(timeText) is not an RFC 3339 time")
            }
            lastTime[package] = time
            guard let test = event.Test else { return true }
            let id = package.isEmpty ? test : package + "/" + test
            switch action {
            case "run":
                running[id] = Running(start: time, order: order, package: package)
                order += 1
            case "pass", "fail", "skip":
                guard let started = running.removeValue(forKey: id) else { return true }
                let outcome = action == "pass" ? "passed" : action == "fail" ? "failed" : "skipped"
                finished.append((started.order, TestRecord(id: id, outcome: outcome, start: started.start, end: time,
                                                           worker: package.isEmpty ? "main" : package, source: "go")))
            default:
                break
            }
            return true
        }
        // Started and never finished (a panic or a timeout ended the binary): failed, until its package's last event.
        for (id, started) in running {
            let package = started.package
            let end = lastTime[package] ?? lastTime.values.max() ?? started.start
            finished.append((started.order, TestRecord(id: id, outcome: "failed", start: started.start, end: end,
                                                       worker: package.isEmpty ? "main" : package, source: "go")))
        }
        guard !finished.isEmpty || order > 0 || !lastTime.isEmpty else {
            throw problem(file, "has no go test -json events")
        }
        return finished.sorted { $0.order < $1.order }.map(\.test)
    }
}
