import ArgumentParser
import Foundation
import MusterKit

/// `muster report --html FILE REPORT.json`: draws a saved run report, for example one
/// a CI job kept as an artifact, as one self-contained HTML page, or writes its tests
/// as JUnit XML.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Draw a saved run report (muster run --report) as one self-contained HTML page, or write its tests as JUnit XML.",
        discussion: """
            The page shows a lane per service (ready, starting, down, unavailable, restarts), Postgres connections \
            under max_connections, and the tests as bars, a lane per worker; clicking a failed test highlights the \
            disruptions it overlapped. It needs no network and no other file. The JUnit file has a testcase per \
            test; a failing test that overlapped a disruption names it in its <failure> message and <system-err>.

            With --merge, the reports of the shards of one suite (run on different machines, each with muster run \
            --shard NAME --report, or named after their file or folder) become one: every test with its shard and \
            worker, each shard's services as its own lanes (SHARD/NAME), each disruption named with its shard and \
            attributed to that shard's tests only, one summary. The page draws each shard as a group of lanes on \
            one time axis. Reports of another muster version, files that are not run reports and two reports of \
            one shard are refused (exit 2).

            Examples:
              muster report --html run.html --junit junit.xml muster-report.json
              muster report --merge shard-*/muster-report.json -o merged.json --html merged.html --junit merged.xml
            """)

    @Option(help: "Write the HTML page here.") var html: String?
    @Option(help: ArgumentHelp("Write the tests as JUnit XML here.", valueName: "FILE")) var junit: String?
    @Option(
        help: ArgumentHelp(
            "Write a Markdown summary here (for a CI job summary such as $GITHUB_STEP_SUMMARY).", valueName: "FILE"))
    var markdown: String?
    @Flag(help: "Join the reports of several shards into one.") var merge = false
    @Option(
        name: .shortAndLong, help: ArgumentHelp("With --merge: write the merged JSON report here.", valueName: "FILE"))
    var output: String?
    @Argument(help: "The JSON file written by muster run --report (with --merge: two or more).") var reports: [String] =
        []

    func validate() throws {
        if reports.isEmpty { throw ValidationError("pass the JSON file written by muster run --report") }
        if !merge && reports.count > 1 {
            throw ValidationError("one report at a time; to join shards' reports, add --merge")
        }
        if !merge && output != nil { throw ValidationError("-o writes a merged report; add --merge") }
        if html == nil && junit == nil && markdown == nil && output == nil {
            throw ValidationError(
                "say what to write: --html FILE, --junit FILE, --markdown FILE" + (merge ? ", -o FILE" : "")
                    + " or more")
        }
    }

    func run() throws {
        if let html { try ReportFile.checkWritable(html, what: "HTML report") }
        if let junit { try ReportFile.checkWritable(junit, what: "JUnit report") }
        if let output { try ReportFile.checkWritable(output, what: "merged report") }
        if let markdown { try ReportFile.checkWritable(markdown, what: "Markdown summary") }
        let timeline: RunTimeline
        if merge {
            let merged = try ReportMerge.merge(paths: reports)
            timeline = merged.timeline
            if let output { try ReportFile.write(merged.json, to: output, what: "merged report") }
            for line in merged.lines { Output.note(line) }
        } else {
            timeline = try RunTimeline.load(path: reports[0])
        }
        if let html { try HTMLReport.write(timeline, to: html) }
        if let junit { try JUnitReport.write(timeline, to: junit) }
        if let markdown { try MarkdownSummary.write(timeline, to: markdown) }
        let written = [output, html, junit, markdown].compactMap { $0 }.joined(separator: " and ")
        Output.note("wrote \(written): \(timeline.tests.count) tests, \(timeline.disruptions.count) disruption(s)")
    }
}
