import Foundation

/// The tests of a run report as JUnit XML (`muster run --junit`, `muster report --junit`),
/// the format GitLab's, Jenkins's and GitHub's test views read: `<testsuites>` of
/// `<testsuite>` (one per test source, and per shard in a merged report) of
/// `<testcase classname name time timestamp>`. A failing test that overlapped a
/// disruption says so in its `<failure message>` and lists each disruption (service,
/// kind, times, reason, the last log lines) in its `<system-err>`, so the CI's own
/// test view shows the restart on the test.
public enum JUnitReport {
    /// Log lines of each disruption copied into `<system-err>`.
    public static let logLines = 10

    public static func render(_ run: RunTimeline) -> String {
        let bySeq = Dictionary(run.disruptions.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        let hosts = Dictionary(run.shards.map { ($0.name, $0.host ?? "") }, uniquingKeysWith: { first, _ in first })
        // Suites in the order their first test appears.
        var order: [String] = []
        var members: [String: [Int]] = [:]
        for index in run.tests.indices {
            let key = suiteName(run.tests[index], shard: run.tests[index].shard ?? run.shard)
            if members[key] == nil { order.append(key) }
            members[key, default: []].append(index)
        }
        let all = run.tests
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out +=
            "<testsuites name=\"muster\(run.shards.isEmpty ? "" : " (\(run.shards.count) shards)")\""
            + counts(all.indices.map { all[$0] })
            + " time=\"\(seconds(run.ended.timeIntervalSince(run.started)))\" timestamp=\"\(suiteTimestamp(run.started))\">\n"
        for (number, name) in order.enumerated() {
            let tests = members[name]!.map { all[$0] }
            let start = tests.map(\.start).min() ?? run.started
            let end = tests.map(\.end).max() ?? run.ended
            let shard = tests.first?.shard
            let host = shard.flatMap { hosts[$0] } ?? run.host ?? ""
            out +=
                "  <testsuite name=\"\(attribute(name))\" id=\"\(number)\" package=\"\(attribute(name))\""
                + counts(tests)
                + " time=\"\(seconds(end.timeIntervalSince(start)))\" timestamp=\"\(suiteTimestamp(start))\""
                + " hostname=\"\(attribute(host.isEmpty ? "localhost" : host))\">\n"
            for test in tests { out += testcase(test, disruptions: bySeq) }
            out += "  </testsuite>\n"
        }
        out += "</testsuites>\n"
        return out
    }

    public static func write(_ run: RunTimeline, to path: String) throws {
        try ReportFile.write(Data(render(run).utf8), to: path, what: "JUnit report")
    }

    /// `pytest` or, in a merged report, `shard-2 pytest`.
    static func suiteName(_ test: RunTimeline.Test, shard: String?) -> String {
        let source = test.source ?? "tests"
        return shard.map { "\($0) \(source)" } ?? source
    }

    /// ` tests="…" failures="…" errors="…" skipped="…"`.
    static func counts(_ tests: [RunTimeline.Test]) -> String {
        let failures = tests.filter { $0.outcome == "failed" }.count
        let errors = tests.filter { $0.outcome == "error" }.count
        let skipped = tests.filter { $0.outcome == "skipped" }.count
        return " tests=\"\(tests.count)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"\(skipped)\""
    }

    static func testcase(_ test: RunTimeline.Test, disruptions: [Int: RunTimeline.Disruption]) -> String {
        let (classname, name) = split(test.id, source: test.source)
        var out =
            "    <testcase classname=\"\(attribute(classname))\" name=\"\(attribute(name))\""
            + " time=\"\(seconds(test.end.timeIntervalSince(test.start)))\" timestamp=\"\(caseTimestamp(test.start))\""
        let hit = test.disruptions.compactMap { disruptions[$0] }
        let shardNote = test.shard.map { " (shard \($0))" } ?? ""
        switch test.outcome {
        case "failed", "error":
            let element = test.outcome == "failed" ? "failure" : "error"
            let message: String
            if hit.isEmpty {
                message = "\(test.outcome) on \(test.worker)\(shardNote); muster saw no service disruption while it ran"
            } else {
                message = "\(test.outcome) while " + hit.map(clause).joined(separator: "; ") + " (muster)"
            }
            out +=
                ">\n      <\(element) message=\"\(attribute(message))\" type=\"\(hit.isEmpty ? test.outcome : "muster.disruption")\">"
                + text(
                    "\(test.id) \(test.outcome) on \(test.worker)\(shardNote), \(caseTimestamp(test.start))Z–\(caseTimestamp(test.end))Z"
                )
                + "</\(element)>\n"
            if !hit.isEmpty {
                out += "      <system-err>" + text(hit.map(details).joined(separator: "\n\n")) + "</system-err>\n"
            }
            out += "    </testcase>\n"
        case "skipped":
            out += ">\n      <skipped/>\n    </testcase>\n"
        default:
            out += "/>\n"
        }
        return out
    }

    /// `notifier restarted 08:00:01.200–08:00:02.900 UTC (killed by SIGKILL)`.
    static func clause(_ d: RunTimeline.Disruption) -> String {
        let until = d.end.map { "–" + Clock.time($0) } ?? " (still open)"
        return "\(d.service) \(d.kind.words) \(Clock.time(d.start))\(until) UTC" + (d.reason.map { " (\($0))" } ?? "")
    }

    /// Everything muster knows of one disruption, a field a line, then its last log lines.
    static func details(_ d: RunTimeline.Disruption) -> String {
        var lines = [
            "muster: \(d.service) \(d.kind.words) while this test ran",
            "  service: \(d.service)", "  kind:    \(d.kind.rawValue)",
            "  start:   \(EventLog.timestamp(d.start))",
            "  end:     \(d.end.map(EventLog.timestamp) ?? "still open when the run ended")",
        ]
        if let shard = d.shard { lines.append("  shard:   \(shard)") }
        if let reason = d.reason { lines.append("  reason:  \(reason)") }
        let tail = d.logTail.suffix(logLines)
        if !tail.isEmpty {
            lines.append("  last \(tail.count) log line\(tail.count == 1 ? "" : "s") of \(d.service):")
            lines += tail.map { "    " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// (classname, name): the id cut at its last `::` (pytest, go) or ` › ` (Playwright);
    /// a path's slashes and `.py` become dots in the class, as pytest's own JUnit has it.
    static func split(_ id: String, source: String?) -> (String, String) {
        for separator in ["::", " › "] {
            guard let range = id.range(of: separator, options: .backwards) else { continue }
            var classname = String(id[..<range.lowerBound])
            if separator == "::" {
                classname = classname.replacingOccurrences(of: ".py::", with: ".").replacingOccurrences(
                    of: "::", with: ".")
                if classname.hasSuffix(".py") { classname.removeLast(3) }
                classname = classname.replacingOccurrences(of: "/", with: ".")
            }
            return (classname, String(id[range.upperBound...]))
        }
        return (source ?? "tests", id)
    }

    static func seconds(_ value: TimeInterval) -> String { String(format: "%.3f", max(value, 0)) }

    /// `2026-05-01T08:00:01`: the form the JUnit schema's `timestamp` pattern takes (UTC, no zone).
    static func suiteTimestamp(_ date: Date) -> String { String(EventLog.timestamp(date).prefix(19)) }

    /// `2026-05-01T08:00:01.123` (UTC).
    static func caseTimestamp(_ date: Date) -> String {
        String(EventLog.timestamp(date).prefix(23))
    }

    /// Text content: `&`, `<`, `>` escaped, characters XML 1.0 cannot carry replaced.
    static func text(_ value: String) -> String { escape(value, attribute: false) }

    /// Attribute value: also quotes, and tabs and line ends as references so they survive.
    static func attribute(_ value: String) -> String { escape(value, attribute: true) }

    static func escape(_ value: String, attribute: Bool) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        var scalars = value.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"" where attribute: out += "&quot;"
            case "'" where attribute: out += "&apos;"
            case "\n" where attribute: out += "&#10;"
            case "\r": out += "&#13;"
            case "\t" where attribute: out += "&#9;"
            case "\n", "\t": out.unicodeScalars.append(scalar)
            case "\u{1B}":
                // A terminal colour sequence (ESC [ … letter) says nothing in a test view: dropped.
                var rest = scalars
                if rest.next() == "[" {
                    while let next = rest.next() {
                        if (0x40...0x7E).contains(next.value) { break }
                    }
                    scalars = rest
                } else {
                    out += "\\x1b"
                }
            default:
                let v = scalar.value
                if v < 0x20 || v == 0xFFFE || v == 0xFFFF || (0x7F...0x9F).contains(v) && v != 0x85 {
                    out += String(format: "\\x%02x", v)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
