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
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                if object["suites"] != nil { return try playwright(object, file: path) }
                if object["Action"] != nil { return try goTest(data, file: path) }
                if object["id"] != nil { return try testsLines(data, file: path) }
                throw problem(path, "is JSON but neither a Playwright report (no \"suites\") nor go test -json (no \"Action\")")
            }
            let firstLine = data.prefix { $0 != 10 }
            guard let object = try? JSONSerialization.jsonObject(with: Data(firstLine)) as? [String: Any] else {
                throw problem(path, "is not valid JSON (line 1); expected a Playwright JSON report or go test -json output")
            }
            if object["Action"] != nil { return try goTest(data, file: path) }
            if object["id"] != nil { return try testsLines(data, file: path) }
            throw problem(path, "is JSON lines but not go test -json (no \"Action\" on line 1)")
        default:
            throw problem(path, "is not a Playwright JSON report, a JUnit XML file or go test -json output")
        }
    }

    /// The file `muster run` gives CMD as `MUSTER_TESTS_FILE`. Lines that are not
    /// whole test objects (a write cut short) are skipped and counted.
    public static func readTestsFile(_ path: String) -> (tests: [TestRecord], skipped: Int) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        var tests: [TestRecord] = []
        var skipped = 0
        forEachLine(data) { line, _ in
            if let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any],
               let test = TestRecord.fromLine(object, defaultSource: "pytest") {
                tests.append(test)
            } else {
                skipped += 1
            }
            return true
        }
        return (tests, skipped)
    }

    static func problem(_ path: String, _ text: String) -> MusterError {
        MusterError(.usage, "--tests \(path): \(text)")
    }

    /// Calls `body` with each non-blank line (without its newline) and its 1-based number; stops when it returns false.
    static func forEachLine(_ data: Data, _ body: (Data, Int) throws -> Bool) rethrows {
        var number = 0
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 10) ?? data.endIndex
            number += 1
            let line = data[start..<end]
            if line.contains(where: { ![9, 13, 32].contains($0) }) {
                guard try body(Data(line), number) else { return }
            }
            start = end == data.endIndex ? end : end + 1
        }
    }

    // MARK: - muster's tests file given as --tests

    static func testsLines(_ data: Data, file: String) throws -> [TestRecord] {
        var tests: [TestRecord] = []
        try forEachLine(data) { line, number in
            guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any],
                  let test = TestRecord.fromLine(object, defaultSource: "pytest") else {
                throw problem(file, "line \(number) is not a test object with id, outcome, start and end")
            }
            tests.append(test)
            return true
        }
        return tests
    }

    // MARK: - Playwright

    static func playwright(_ report: [String: Any], file: String) throws -> [TestRecord] {
        guard let suites = report["suites"] as? [[String: Any]] else {
            throw problem(file, "\"suites\" is not a list of suites; is this Playwright's JSON reporter output?")
        }
        var projects: Set<String> = []
        collectProjects(suites, into: &projects)
        var tests: [TestRecord] = []
        try walk(suites, path: [], file: file, namedProjects: projects.count > 1, into: &tests)
        return tests
    }

    private static func collectProjects(_ suites: [[String: Any]], into projects: inout Set<String>) {
        for suite in suites {
            for spec in suite["specs"] as? [[String: Any]] ?? [] {
                for test in spec["tests"] as? [[String: Any]] ?? [] {
                    if let name = test["projectName"] as? String { projects.insert(name) }
                }
            }
            collectProjects(suite["suites"] as? [[String: Any]] ?? [], into: &projects)
        }
    }

    private static func walk(_ suites: [[String: Any]], path: [String], file reportFile: String, namedProjects: Bool,
                             into tests: inout [TestRecord]) throws {
        for suite in suites {
            var path = path
            let title = suite["title"] as? String ?? ""
            // The root suite of each file is titled with the file itself.
            if !title.isEmpty, title != suite["file"] as? String { path.append(title) }
            for spec in suite["specs"] as? [[String: Any]] ?? [] {
                let file = spec["file"] as? String ?? suite["file"] as? String ?? ""
                let titles = path + [spec["title"] as? String ?? "?"]
                let name = ([file].filter { !$0.isEmpty } + titles).joined(separator: " › ")
                for test in spec["tests"] as? [[String: Any]] ?? [] {
                    let project = test["projectName"] as? String ?? ""
                    let id = namedProjects && !project.isEmpty ? "[\(project)] \(name)" : name
                    for result in test["results"] as? [[String: Any]] ?? [] {
                        tests.append(try playwrightResult(result, id: id, file: reportFile))
                    }
                }
            }
            try walk(suite["suites"] as? [[String: Any]] ?? [], path: path, file: reportFile, namedProjects: namedProjects, into: &tests)
        }
    }

    private static func playwrightResult(_ result: [String: Any], id: String, file: String) throws -> TestRecord {
        guard let startText = result["startTime"] as? String, let start = RFC3339.seconds(startText) else {
            throw problem(file, "the result of \"\(id)\" has no startTime (RFC 3339); muster needs it to place the test in time")
        }
        guard let duration = (result["duration"] as? NSNumber)?.doubleValue else {
            throw problem(file, "the result of \"\(id)\" has no duration (milliseconds)")
        }
        let retry = (result["retry"] as? NSNumber)?.intValue ?? 0
        let worker = (result["workerIndex"] as? NSNumber).map { "w\($0.intValue)" } ?? "main"
        let outcome: String
        switch result["status"] as? String {
        case "passed"?: outcome = "passed"
        case "skipped"?: outcome = "skipped"
        default: outcome = "failed"  // failed, timedOut, interrupted
        }
        return TestRecord(id: retry > 0 ? "\(id) (retry \(retry))" : id, outcome: outcome, start: start,
                          end: start + max(0, duration) / 1000, worker: worker, source: "playwright")
    }

    // MARK: - go test -json

    static func goTest(_ data: Data, file: String) throws -> [TestRecord] {
        struct Running { var start: Double; var order: Int; var package: String }
        var running: [String: Running] = [:]
        var lastTime: [String: Double] = [:]
        var finished: [(order: Int, test: TestRecord)] = []
        var order = 0
        let output = Data("\"Action\":\"output\"".utf8)
        try forEachLine(data) { line, number in
            // Output lines are most of the stream and never matter here.
            if line.range(of: output) != nil { return true }
            guard line.first == UInt8(ascii: "{") else { return true }  // build output mixed into the stream
            guard let event = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
                throw problem(file, "line \(number) is not valid JSON; expected go test -json output")
            }
            guard let action = event["Action"] as? String else {
                throw problem(file, "line \(number) has no \"Action\"; expected go test -json output")
            }
            let package = event["Package"] as? String ?? ""
            guard let timeText = event["Time"] as? String else { return true }
            guard let time = RFC3339.seconds(timeText) else {
                throw problem(file, "line \(number): \"Time\" \(timeText) is not an RFC 3339 time")
            }
            lastTime[package] = time
            guard let test = event["Test"] as? String else { return true }
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
