import CMusterShims
import Foundation

/// Reads JUnit XML (`<testsuites>` or a lone `<testsuite>`) with libxml2, loaded the
/// first time a JUnit report is read (linking it, through FoundationXML, loaded ICU
/// into every muster process at start-up). A test is `classname.name`; its outcome is
/// `failed` with a `<failure>`, `error` with an `<error>`, `skipped` with a
/// `<skipped>`, else `passed`. Its interval:
/// - the testcase's own `timestamp` attribute plus its `time` (seconds), or
/// - when only the `<testsuite>` has a `timestamp`: that plus the `time`s of the
///   testcases before it in that suite (they ran one after another).
/// Timestamps without a zone (as Ant and Surefire write them) are read in the
/// machine's local time zone. A testcase with neither is an error: it cannot be
/// placed in time.
enum JUnitReader {
    static func read(_ data: Data, file: String, zone: TimeZone = .current) throws -> [TestRecord] {
        let collector = Collector(file: file, zone: zone)
        var problem = [CChar](repeating: 0, count: 512)
        var line: Int32 = 0
        var column: Int32 = 0
        let context = Unmanaged.passUnretained(collector).toOpaque()
        let status = data.withUnsafeBytes { bytes -> Int32 in
            muster_xml_walk(
                bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count,
                { context, kind, name, names, values, count, line in
                    let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
                    let element = name.map { String(cString: $0) } ?? ""
                    if kind == 2 { return collector.end(element) ? 0 : 1 }
                    var attributes: [String: String] = [:]
                    for index in 0..<Int(count) {
                        attributes[String(cString: names![index]!)] = String(cString: values![index]!)
                    }
                    return collector.start(element, attributes: attributes, line: Int(line)) ? 0 : 1
                }, context, &problem, problem.count, &line, &column)
        }
        if let problem = collector.problem { throw TestReportReader.problem(file, problem) }
        switch status {
        case -1:
            throw TestReportReader.problem(file, String(nulTerminated: problem))
        case 1:
            throw TestReportReader.problem(
                file, "is not well-formed XML (line \(line), column \(column): \(String(nulTerminated: problem)))")
        default:
            break
        }
        guard collector.sawSuite else {
            throw TestReportReader.problem(file, "is XML but has no <testsuite>; expected JUnit XML")
        }
        return collector.tests
    }

    private final class Collector {
        let file: String
        let zone: TimeZone
        var tests: [TestRecord] = []
        var problem: String?
        var sawSuite = false
        /// Per open <testsuite>: where its next testcase starts when testcases carry no timestamp.
        private var suiteClock: [Double?] = []
        private var suiteNames: [String] = []
        private var current: (id: String, start: Double?, seconds: Double, outcome: String, line: Int)?

        init(file: String, zone: TimeZone) {
            self.file = file
            self.zone = zone
        }

        /// An element starts; false stops the walk (a problem was found).
        func start(_ element: String, attributes: [String: String], line: Int) -> Bool {
            switch element {
            case "testsuite":
                sawSuite = true
                var start = suiteClock.last ?? nil
                if let text = attributes["timestamp"] {
                    guard let seconds = RFC3339.seconds(text, localIfNoZone: zone) else {
                        return fail("testsuite timestamp \"\(text)\" on line \(line) is not an ISO 8601 time")
                    }
                    start = seconds
                }
                suiteClock.append(start)
                suiteNames.append(attributes["name"] ?? "")
            case "testcase":
                let name = attributes["name"] ?? "?"
                let classname = attributes["classname"] ?? suiteNames.last ?? ""
                let seconds = attributes["time"].flatMap { Double($0.replacingOccurrences(of: ",", with: "")) } ?? 0
                var start: Double?
                if let text = attributes["timestamp"] {
                    guard let value = RFC3339.seconds(text, localIfNoZone: zone) else {
                        return fail("testcase timestamp \"\(text)\" on line \(line) is not an ISO 8601 time")
                    }
                    start = value
                } else if let clock = suiteClock.last ?? nil {
                    start = clock
                }
                current = (classname.isEmpty ? name : classname + "." + name, start, max(0, seconds), "passed", line)
            case "failure":
                if current != nil, current!.outcome != "error" { current!.outcome = "failed" }
            case "error":
                if current != nil { current!.outcome = "error" }
            case "skipped":
                if current != nil, current!.outcome == "passed" { current!.outcome = "skipped" }
            default:
                break
            }
            return true
        }

        /// An element ends; false stops the walk.
        func end(_ element: String) -> Bool {
            switch element {
            case "testsuite":
                suiteClock.removeLast()
                suiteNames.removeLast()
            case "testcase":
                guard let test = current else { return true }
                current = nil
                guard let start = test.start else {
                    return fail(
                        "testcase \"\(test.id)\" on line \(test.line) has no timestamp and neither has its testsuite; muster needs one to place tests in time"
                    )
                }
                tests.append(
                    TestRecord(
                        id: test.id, outcome: test.outcome, start: start, end: start + test.seconds,
                        worker: "main", source: "junit"))
                // Testcases without their own timestamp follow one another.
                if !suiteClock.isEmpty, suiteClock[suiteClock.count - 1] != nil {
                    suiteClock[suiteClock.count - 1] = max(suiteClock[suiteClock.count - 1]!, start + test.seconds)
                }
            default:
                break
            }
            return true
        }

        private func fail(_ text: String) -> Bool {
            if problem == nil { problem = text }
            return false
        }
    }
}
