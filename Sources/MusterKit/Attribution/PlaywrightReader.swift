import Foundation

/// Reads Playwright's JSON reporter output (`{"config": ..., "suites": [...]}`):
/// one test per result (retries are attempts of their own), id
/// `file › describe › title`, prefixed with `[project]` when the report holds
/// several projects. Suites nest; only the fields below are read, every other
/// value is checked and skipped (`JSONCursor`).
enum PlaywrightReader {
    struct Suite {
        var title: String?
        var file: String?
        var specs: [Spec] = []
        var suites: [Suite] = []
    }
    struct Spec {
        var title: String?
        var file: String?
        var tests: [Test] = []
    }
    struct Test {
        var projectName: String?
        var results: [Result] = []
    }
    struct Result {
        var workerIndex: Int?
        var status: String?
        var duration: Double?
        var startTime: String?
        var retry: Int?
    }

    /// A value of the wrong type under a known key.
    private struct KeyedMismatch: Error {
        var key: String
        var failure: JSONCursor.Failure
    }

    static func read(_ data: Data, file: String) throws -> [TestRecord] {
        let suites: [Suite]?
        do {
            suites = try data.withUnsafeBytes { bytes in
                var cursor = JSONCursor(bytes)
                do {
                    let suites = try report(&cursor)
                    try cursor.end()
                    return suites
                } catch let failure as JSONCursor.Failure {
                    let (line, column) = cursor.position(of: failure.offset)
                    if JSONCursor.isMismatch(failure) {
                        throw TestReportReader.problem(
                            file,
                            "is not a Playwright JSON report: the top (line \(line), column \(column)) is not an object"
                        )
                    }
                    throw TestReportReader.problem(
                        file,
                        "is not valid JSON (line \(line), column \(column): \(failure.what)); expected a Playwright JSON report (reporter: [['json', {outputFile: ...}]])"
                    )
                } catch let mismatch as KeyedMismatch {
                    let (line, column) = cursor.position(of: mismatch.failure.offset)
                    throw TestReportReader.problem(
                        file,
                        "is not a Playwright JSON report: \"\(mismatch.key)\" (line \(line), column \(column)) \(mismatch.failure.what)"
                    )
                }
            }
        }
        guard let suites else {
            throw TestReportReader.problem(file, "is JSON but not a Playwright report (no \"suites\")")
        }
        var projects: Set<String> = []
        collectProjects(suites, into: &projects)
        var tests: [TestRecord] = []
        try walk(suites, path: [], file: file, namedProjects: projects.count > 1, into: &tests)
        return tests
    }

    // MARK: - Reading the JSON

    private static func report(_ cursor: inout JSONCursor) throws -> [Suite]? {
        var suites: [Suite]?
        var members = try cursor.beginObject()
        while let key = try cursor.nextKey(&members) {
            if key == "suites" { suites = try list(&cursor, key, suite) } else { try cursor.skip() }
        }
        return suites
    }

    private static func suite(_ cursor: inout JSONCursor) throws -> Suite {
        var suite = Suite()
        var members = try object(&cursor, "suites")
        while let key = try cursor.nextKey(&members) {
            switch key {
            case "title": suite.title = try field(&cursor, key) { try $0.string() }
            case "file": suite.file = try field(&cursor, key) { try $0.string() }
            case "specs": suite.specs = try list(&cursor, key, spec) ?? []
            case "suites": suite.suites = try list(&cursor, key, Self.suite) ?? []
            default: try cursor.skip()
            }
        }
        return suite
    }

    private static func spec(_ cursor: inout JSONCursor) throws -> Spec {
        var spec = Spec()
        var members = try object(&cursor, "specs")
        while let key = try cursor.nextKey(&members) {
            switch key {
            case "title": spec.title = try field(&cursor, key) { try $0.string() }
            case "file": spec.file = try field(&cursor, key) { try $0.string() }
            case "tests": spec.tests = try list(&cursor, key, test) ?? []
            default: try cursor.skip()
            }
        }
        return spec
    }

    private static func test(_ cursor: inout JSONCursor) throws -> Test {
        var test = Test()
        var members = try object(&cursor, "tests")
        while let key = try cursor.nextKey(&members) {
            switch key {
            case "projectName": test.projectName = try field(&cursor, key) { try $0.string() }
            case "results": test.results = try list(&cursor, key, result) ?? []
            default: try cursor.skip()
            }
        }
        return test
    }

    private static func result(_ cursor: inout JSONCursor) throws -> Result {
        var result = Result()
        var members = try object(&cursor, "results")
        while let key = try cursor.nextKey(&members) {
            switch key {
            case "workerIndex": result.workerIndex = try field(&cursor, key) { try $0.integer() }
            case "status": result.status = try field(&cursor, key) { try $0.string() }
            case "duration": result.duration = try field(&cursor, key) { try $0.number() }
            case "startTime": result.startTime = try field(&cursor, key) { try $0.string() }
            case "retry": result.retry = try field(&cursor, key) { try $0.integer() }
            default: try cursor.skip()
            }
        }
        return result
    }

    /// An optional member's value (null: absent); a value of another type names the key.
    private static func field<T>(_ cursor: inout JSONCursor, _ key: String, _ read: (inout JSONCursor) throws -> T)
        throws -> T?
    {
        if try cursor.null() { return nil }
        do {
            return try read(&cursor)
        } catch let failure as JSONCursor.Failure where JSONCursor.isMismatch(failure) {
            throw KeyedMismatch(key: key, failure: failure)
        }
    }

    /// An array of `element`s under `key` (null: absent).
    private static func list<T>(_ cursor: inout JSONCursor, _ key: String, _ element: (inout JSONCursor) throws -> T)
        throws -> [T]?
    {
        guard try !cursor.null() else { return nil }
        var elements: JSONCursor.Container
        do {
            elements = try cursor.beginArray()
        } catch let failure as JSONCursor.Failure where JSONCursor.isMismatch(failure) {
            throw KeyedMismatch(key: key, failure: failure)
        }
        var values: [T] = []
        while try cursor.nextElement(&elements) { values.append(try element(&cursor)) }
        return values
    }

    /// An element of the array under `key` that must be an object.
    private static func object(_ cursor: inout JSONCursor, _ key: String) throws -> JSONCursor.Container {
        do {
            return try cursor.beginObject()
        } catch let failure as JSONCursor.Failure where JSONCursor.isMismatch(failure) {
            throw KeyedMismatch(
                key: key,
                failure: JSONCursor.Failure(
                    what:
                        "holds \(failure.what.replacingOccurrences(of: "expected an object, found ", with: "")) where an object belongs",
                    offset: failure.offset))
        }
    }

    // MARK: - Tests from the suites

    private static func collectProjects(_ suites: [Suite], into projects: inout Set<String>) {
        for suite in suites {
            for spec in suite.specs {
                for test in spec.tests { if let name = test.projectName { projects.insert(name) } }
            }
            collectProjects(suite.suites, into: &projects)
        }
    }

    private static func walk(
        _ suites: [Suite], path: [String], file reportFile: String, namedProjects: Bool,
        into tests: inout [TestRecord]
    ) throws {
        for suite in suites {
            var path = path
            let title = suite.title ?? ""
            // The root suite of each file is titled with the file itself.
            if !title.isEmpty, title != suite.file { path.append(title) }
            for spec in suite.specs {
                let file = spec.file ?? suite.file ?? ""
                let titles = path + [spec.title ?? "?"]
                let name = ([file].filter { !$0.isEmpty } + titles).joined(separator: " › ")
                for test in spec.tests {
                    let project = test.projectName ?? ""
                    let id = namedProjects && !project.isEmpty ? "[\(project)] \(name)" : name
                    for result in test.results {
                        tests.append(try record(result, id: id, file: reportFile))
                    }
                }
            }
            try walk(suite.suites, path: path, file: reportFile, namedProjects: namedProjects, into: &tests)
        }
    }

    private static func record(_ result: Result, id: String, file: String) throws -> TestRecord {
        guard let startText = result.startTime, let start = RFC3339.seconds(startText) else {
            throw TestReportReader.problem(
                file, "the result of \"\(id)\" has no startTime (RFC 3339); muster needs it to place the test in time")
        }
        guard let duration = result.duration else {
            throw TestReportReader.problem(file, "the result of \"\(id)\" has no duration (milliseconds)")
        }
        let retry = result.retry ?? 0
        let outcome: String
        switch result.status {
        case "passed"?: outcome = "passed"
        case "skipped"?: outcome = "skipped"
        default: outcome = "failed"  // failed, timedOut, interrupted
        }
        return TestRecord(
            id: retry > 0 ? "\(id) (retry \(retry))" : id, outcome: outcome, start: start,
            end: start + max(0, duration) / 1000, worker: result.workerIndex.map { "w\($0)" } ?? "main",
            source: "playwright")
    }
}
