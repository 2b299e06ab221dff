import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads JUnit XML (`<testsuites>` or a lone `<testsuite>`) with Foundation's
/// `XMLParser`. A test is `classname.name`; its outcome is `failed` with a
/// `<failure>`, `error` with an `<error>`, `skipped` with a `<skipped>`, else
/// `passed`. Its interval:
/// - the testcase's own `timestamp` attribute plus its `time` (seconds), or
/// - when only the `<testsuite>` has a `timestamp`: that plus the `time`s of the
///   testcases before it in that suite (they ran one after another).
/// Timestamps without a zone (as Ant and Surefire write them) are read in the
/// machine's local time zone. A testcase with neither is an error: it cannot be
/// placed in time.
enum JUnitReader {
    static func read(_ data: Data, file: String, zone: TimeZone = .current) throws -> [TestRecord] {
        let collector = Collector(file: file, zone: zone)
        let parser = XMLParser(data: data)
        parser.delegate = collector
        parser.shouldResolveExternalEntities = false
        // On Linux parse() can answer true after an error: the delegate's note decides.
        let parsed = parser.parse()
        if let problem = collector.problem { throw TestReportReader.problem(file, problem) }
        if let (code, line, column) = collector.syntaxError ?? (parsed ? nil : ((parser.parserError as NSError?)?.code ?? -1, parser.lineNumber, parser.columnNumber)) {
            throw TestReportReader.problem(file, "is not well-formed XML (line \(line), column \(column): \(describe(code)))")
        }
        guard collector.sawSuite else {
            throw TestReportReader.problem(file, "is XML but has no <testsuite>; expected JUnit XML")
        }
        return collector.tests
    }

    /// libxml2's codes carry no text on Linux; the common ones in words.
    static func describe(_ code: Int) -> String {
        switch XMLParser.ErrorCode(rawValue: code) {
        case .tagNameMismatchError?: return "an end tag does not match its start tag"
        case .prematureDocumentEndError?: return "the document ends too early"
        case .emptyDocumentError?: return "the document is empty"
        case .attributeNotStartedError?, .attributeNotFinishedError?: return "a malformed attribute"
        case .ltRequiredError?, .gtRequiredError?: return "a malformed tag"
        default: return "XML error \(code)"
        }
    }

    private final class Collector: NSObject, XMLParserDelegate {
        let file: String
        let zone: TimeZone
        var tests: [TestRecord] = []
        var problem: String?
        var sawSuite = false
        /// The first syntax error: code, line, column.
        var syntaxError: (Int, Int, Int)?
        /// Per open <testsuite>: where its next testcase starts when testcases carry no timestamp.
        private var suiteClock: [Double?] = []
        private var suiteNames: [String] = []
        private var current: (id: String, start: Double?, seconds: Double, outcome: String, line: Int)?

        init(file: String, zone: TimeZone) {
            self.file = file
            self.zone = zone
        }

        func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            switch element {
            case "testsuite":
                sawSuite = true
                var start = suiteClock.last ?? nil
                if let text = attributes["timestamp"] {
                    guard let seconds = RFC3339.seconds(text, localIfNoZone: zone) else {
                        return fail(parser, "testsuite timestamp \"\(text)\" on line \(parser.lineNumber) is not an ISO 8601 time")
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
                        return fail(parser, "testcase timestamp \"\(text)\" on line \(parser.lineNumber) is not an ISO 8601 time")
                    }
                    start = value
                } else if let clock = suiteClock.last ?? nil {
                    start = clock
                }
                current = (classname.isEmpty ? name : classname + "." + name, start, max(0, seconds), "passed", parser.lineNumber)
            case "failure":
                if current != nil, current!.outcome != "error" { current!.outcome = "failed" }
            case "error":
                if current != nil { current!.outcome = "error" }
            case "skipped":
                if current != nil, current!.outcome == "passed" { current!.outcome = "skipped" }
            default:
                break
            }
        }

        func parser(_ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?) {
            switch element {
            case "testsuite":
                suiteClock.removeLast()
                suiteNames.removeLast()
            case "testcase":
                guard let test = current else { return }
                current = nil
                guard let start = test.start else {
                    return fail(parser, "testcase \"\(test.id)\" on line \(test.line) has no timestamp and neither has its testsuite; muster needs one to place tests in time")
                }
                tests.append(TestRecord(id: test.id, outcome: test.outcome, start: start, end: start + test.seconds,
                                        worker: "main", source: "junit"))
                // Testcases without their own timestamp follow one another.
                if !suiteClock.isEmpty, suiteClock[suiteClock.count - 1] != nil {
                    suiteClock[suiteClock.count - 1] = max(suiteClock[suiteClock.count - 1]!, start + test.seconds)
                }
            default:
                break
            }
        }

        func parser(_ parser: XMLParser, parseErrorOccurred error: Error) {
            if syntaxError == nil { syntaxError = ((error as NSError).code, parser.lineNumber, parser.columnNumber) }
        }

        private func fail(_ parser: XMLParser, _ text: String) {
            if problem == nil { problem = text }
            parser.abortParsing()
        }
    }
}
