import Foundation
import Testing
@testable import MusterKit

/// JUnit XML, the Markdown summary and the merged report's geometry, without processes.
@Suite struct CIReportTests {
    let start = RFC3339.time("2026-12-03T08:00:00Z")!

    func test(
        _ id: String, _ worker: String, _ from: Double, _ to: Double, _ outcome: String = "passed",
        hits: [Int] = [], shard: String? = nil
    ) -> RunTimeline.Test {
        RunTimeline.Test(
            id: id, outcome: outcome, start: start.addingTimeInterval(from), end: start.addingTimeInterval(to),
            worker: worker, source: "pytest", disruptions: hits, shard: shard)
    }

    @Test func escapingKeepsTheXMLWellFormed() {
        #expect(JUnitReport.attribute("a<b & \"c\" 'd'\n\te") == "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&#10;&#9;e")
        #expect(JUnitReport.text("x\u{1B}[31mred\u{1B}[0m y") == "xred y", "colour sequences dropped")
        #expect(JUnitReport.text("bell\u{07} nul\u{00} esc\u{1B}z") == "bell\\x07 nul\\x00 esc\\x1bz")
        #expect(JUnitReport.text("line\nnext\r") == "line\nnext&#13;")
        #expect(JUnitReport.text("\u{FFFE}é✓") == "\\xfffeé✓")
    }

    @Test func idsAreCutIntoClassAndName() {
        #expect(
            JUnitReport.split("tests/api/test_orders.py::TestPay::test_card[visa]", source: "pytest") == (
                "tests.api.test_orders.TestPay", "test_card[visa]"
            ))
        #expect(JUnitReport.split("tests/test_x.py::test_y", source: "pytest") == ("tests.test_x", "test_y"))
        #expect(
            JUnitReport.split("orders.spec.ts › notify › during", source: "playwright") == (
                "orders.spec.ts › notify", "during"
            ))
        #expect(JUnitReport.split("TestAlone", source: "go") == ("go", "TestAlone"))
    }

    @Test func markdownCellsCannotBreakTheTable() {
        #expect(MarkdownSummary.cell("a|b\nc *d* <e>") == "a\\|b c \\*d\\* &lt;e&gt;")
        #expect(MarkdownSummary.code("t::x[a|b]") == "`t::x[a\\|b]`")
        #expect(MarkdownSummary.code("t::x[`]") == "t::x\\[\\`\\]")
    }

    /// Two shards, each with its own `api` lane; shard a's restart is a column over shard a's group only.
    @Test func mergedShardsAreGroupsOfLanesOnOneAxis() {
        var run = RunTimeline(
            command: ["pytest"], started: start, ended: start.addingTimeInterval(60), exitCode: 1,
            services: ["a/api": [], "b/api": [], "b/db": []],
            disruptions: [
                RunTimeline.Disruption(
                    seq: 1, service: "a/api", kind: .restarted, start: start.addingTimeInterval(10),
                    end: start.addingTimeInterval(12), reason: nil, logTail: [], shard: "a")
            ],
            tests: [
                test("t1", "gw0", 9, 13, "failed", hits: [1], shard: "a"), test("t2", "gw1", 0, 30, shard: "a"),
                test("t1", "gw0", 9, 13, "failed", shard: "b"),
            ])
        run.shards = [
            RunTimeline.Shard(name: "a", host: "h1", started: start, ended: start.addingTimeInterval(60), exitCode: 1),
            RunTimeline.Shard(name: "b", host: nil, started: start, ended: start.addingTimeInterval(50), exitCode: 1),
        ]
        let layout = TimelineLayout(run)
        #expect(layout.headings.map(\.text) == ["shard a on h1: 2 tests", "shard b: 1 test"])
        #expect(layout.serviceLanes.map(\.label) == ["api", "api", "db"])
        #expect(layout.workerLanes.map(\.label) == ["gw0", "gw1", "gw0"])
        #expect(layout.shardTops.count == 2)
        let band = layout.bands[0]
        let secondTop = layout.shardTops[1]
        #expect(
            band.columnY == layout.shardTops[0] && band.columnY + band.columnHeight < secondTop, "only shard a's group")
        #expect(band.laneY == layout.serviceLanes[0].y, "outlined in a/api's lane, not b/api's")
        let bWorker = layout.workerLanes[2]
        #expect(bWorker.y > secondTop)
        let junit = JUnitReport.render(run)
        #expect(junit.contains("<testsuite name=\"a pytest\"") && junit.contains("<testsuite name=\"b pytest\""))
        #expect(junit.components(separatedBy: "<system-err>").count == 2, "only shard a's t1 carries the restart")
        #expect(junit.contains("hostname=\"h1\""))
    }
}

/// Shards without --shard are named after their file, or, as download-artifact lays
/// them out (`shard-2/muster-report.json`), after their folder.
@Suite struct ReportMergeNamingTests {
    func report(in folder: String, file: String, tests: [TestRecord]) throws -> String {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let run = RunReport(
            command: ["pytest"], started: start, ended: start.addingTimeInterval(5), exitCode: 0,
            services: ["db"], events: [], disruptions: [], tests: tests)
        let path = folder + "/" + file
        try run.json.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func shardsAreNamedAfterTheirFolderWhenTheirFilesShareAName() throws {
        let root = NSTemporaryDirectory() + "muster-tests/naming-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let test = TestRecord(
            id: "t::a", outcome: "passed", start: 1_800_000_001, end: 1_800_000_002, worker: "gw0", source: "pytest")
        let first = try report(in: root + "/shard-1", file: "muster-report.json", tests: [test])
        let second = try report(in: root + "/shard-2", file: "muster-report.json", tests: [test])
        let third = try report(in: root, file: "nightly.json", tests: [])
        let merged = try ReportMerge.merge(paths: [first, second, third])
        #expect(merged.timeline.shards.map(\.name) == ["shard-1", "shard-2", "nightly"])
        #expect(merged.timeline.tests.map { "\($0.shard ?? "?") \($0.id)" } == ["shard-1 t::a", "shard-2 t::a"])
        #expect(Set(merged.timeline.services.keys) == ["shard-1/db", "shard-2/db", "nightly/db"])
        // The same file twice is one shard twice.
        let twice = #expect(throws: MusterError.self) { try ReportMerge.merge(paths: [first, first]) }
        #expect(twice?.message.contains("are both shard \"shard-1\"") == true, "\(twice?.message ?? "")")
    }
}
