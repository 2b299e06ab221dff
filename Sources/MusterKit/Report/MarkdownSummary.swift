import Foundation

/// A run report (or a merged one) as Markdown for a CI job summary (`muster report
/// --markdown`, which the GitHub Action appends to `$GITHUB_STEP_SUMMARY`): a headline,
/// the failing tests that overlapped a disruption first (with what they overlapped),
/// then the code's own failures, then the disruptions. Tables are cut at `rows`.
public enum MarkdownSummary {
    public static let rows = 50

    public static func render(_ run: RunTimeline) -> String {
        let failing = run.tests.filter(\.failed)
        let hit = failing.filter { !$0.disruptions.isEmpty }
        let own = failing.filter { $0.disruptions.isEmpty }
        let bySeq = Dictionary(run.disruptions.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        var out: [String] = []
        let headline: String
        if run.tests.isEmpty {
            headline =
                "no tests recorded, "
                + (run.disruptions.isEmpty ? "no disruption" : count(run.disruptions.count, "disruption"))
        } else if failing.isEmpty {
            headline =
                run.disruptions.isEmpty
                ? "no failing test, no disruption" : "no failing test, \(count(run.disruptions.count, "disruption"))"
        } else {
            headline = "\(count(failing.count, "failing test")), \(hit.count) overlapped a disruption"
        }
        out.append("### muster: \(headline)")
        out.append("")
        let outcomes = Dictionary(grouping: run.tests, by: \.outcome).mapValues(\.count)
        let counts = ["failed", "error", "passed", "skipped"].filter { outcomes[$0] != nil }.map {
            "\(outcomes[$0]!) \($0)"
        }
        var facts = [
            "**exit \(run.exitCode.map(String.init) ?? "?")**",
            Clock.duration(run.ended.timeIntervalSince(run.started)),
            run.tests.isEmpty
                ? "no tests recorded" : "\(count(run.tests.count, "test")) (\(counts.joined(separator: ", ")))",
        ]
        let services = Set(run.disruptions.map(\.service)).sorted()
        facts.append(
            run.disruptions.isEmpty
                ? "no service disruption"
                : "\(count(run.disruptions.count, "disruption")) ("
                    + (services.count > 6 ? "\(services.count) services" : services.map(cell).joined(separator: ", "))
                    + ")")
        if !run.shards.isEmpty { facts.append("\(run.shards.count) shards") }
        out.append(facts.joined(separator: " · "))
        let lane = { (test: RunTimeline.Test) in cell((test.shard.map { "\($0) · " } ?? "") + test.worker) }
        if !hit.isEmpty {
            out += [
                "", "#### Failing tests that overlapped a disruption", "", "| Test | Worker | Overlapped |",
                "|---|---|---|",
            ]
            for test in hit.prefix(rows) {
                let what = test.disruptions.compactMap { bySeq[$0] }.map { cell(JUnitReport.clause($0)) }.joined(
                    separator: "<br>")
                out.append("| \(code(test.id)) | \(lane(test)) | \(what) |")
            }
            if hit.count > rows { out += ["", "… and \(hit.count - rows) more in the report"] }
        }
        if !own.isEmpty {
            out += [
                "", "#### Failing tests that overlapped no disruption (the code's own failures)", "",
                "| Test | Worker | Outcome |", "|---|---|---|",
            ]
            for test in own.prefix(rows) { out.append("| \(code(test.id)) | \(lane(test)) | \(test.outcome) |") }
            if own.count > rows { out += ["", "… and \(own.count - rows) more in the report"] }
        }
        if !run.disruptions.isEmpty {
            out += [
                "", "#### Disruptions", "", "| Service | Kind | From (UTC) | To | Reason | Failing tests |",
                "|---|---|---|---|---|---|",
            ]
            for d in run.disruptions.prefix(rows) {
                let failed = failing.filter { $0.disruptions.contains(d.seq) }.count
                out.append(
                    "| \(cell(d.service)) | \(d.kind.words) | \(Clock.time(d.start)) | \(d.end.map(Clock.time) ?? "still open") | \(cell(d.reason ?? "")) | \(failed) |"
                )
            }
            if run.disruptions.count > rows { out += ["", "… and \(run.disruptions.count - rows) more in the report"] }
        }
        return out.joined(separator: "\n") + "\n"
    }

    public static func write(_ run: RunTimeline, to path: String) throws {
        try ReportFile.write(Data(render(run).utf8), to: path, what: "Markdown summary")
    }

    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }

    /// Text in a table cell: pipes escaped, line ends and markup characters made harmless.
    static func cell(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "|": out += "\\|"
            case "\n", "\r", "\t": out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\\", "*", "_", "`", "[", "]", "#": out += "\\" + String(character)
            default:
                if let ascii = character.asciiValue, ascii < 0x20 || ascii == 0x7F {
                    out += " "
                } else {
                    out.append(character)
                }
            }
        }
        return out
    }

    /// A test id as inline code (a pipe still escaped, as tables need); backticks inside fall back to plain text.
    static func code(_ id: String) -> String {
        guard !id.contains("`"), !id.contains(where: { $0.isNewline }) else { return cell(id) }
        return "`" + id.replacingOccurrences(of: "|", with: "\\|") + "`"
    }
}
