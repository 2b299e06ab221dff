import ArgumentParser
import Foundation
import MusterKit

/// `muster report --html FILE REPORT.json`: draws a saved run report, for example one
/// a CI job kept as an artifact, as one self-contained HTML page.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a saved run report (muster run --report) as one self-contained HTML page.",
        discussion: """
        The page shows a lane per service (ready, starting, down, unavailable, restarts), Postgres connections \
        under max_connections, and the tests as bars, a lane per worker; clicking a failed test highlights the \
        disruptions it overlapped. It needs no network and no other file.

        Example: muster report --html run.html muster-report.json
        """)

    @Option(help: "Write the HTML page here.") var html: String
    @Argument(help: "The JSON file written by muster run --report.") var report: String

    func run() throws {
        let timeline = try RunTimeline.load(path: report)
        try HTMLReport.write(timeline, to: html)
        Output.note("wrote \(html): \(timeline.tests.count) tests, \(timeline.disruptions.count) disruption(s)")
    }
}
