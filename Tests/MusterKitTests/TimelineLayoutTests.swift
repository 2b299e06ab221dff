import Foundation
import Testing
@testable import MusterKit

/// The HTML report's reading of run reports and its geometry, without a browser.
@Suite struct TimelineLayoutTests {
    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/reports").path
    }()

    let start = RFC3339.time("2026-12-03T08:00:00Z")!

    func at(_ seconds: Double) -> String { EventLog.timestamp(start.addingTimeInterval(seconds)) }

    func test(
        _ id: String, _ worker: String, _ from: Double, _ to: Double, _ outcome: String = "passed", hits: [Int] = []
    ) -> RunTimeline.Test {
        RunTimeline.Test(
            id: id, outcome: outcome, start: start.addingTimeInterval(from), end: start.addingTimeInterval(to),
            worker: worker, source: "pytest", disruptions: hits)
    }

    @Test func failedTestBarAndRestartMarkerOverlapWhereTheirTimesDo() throws {
        let run = try RunTimeline.load(path: Self.fixtures + "/notifier-restart.json")
        let layout = TimelineLayout(run)
        let restart = try #require(layout.markers.first { $0.service == "notifier" && $0.kind == .restarted })
        #expect(restart.seq == 41)
        let failed = layout.bars.filter(\.failed)
        #expect(failed.count == 3)
        let hit = failed.filter { !$0.disruptions.isEmpty }
        #expect(
            hit.map { run.tests[$0.index].id }.sorted() == [
                "tests/test_notifications.py::test_order_email",
                "tests/test_notifications.py::test_webhook_retry",
            ])
        for bar in hit {
            #expect(bar.disruptions == [41])
            #expect(bar.x <= restart.x && restart.x <= bar.x + bar.width)
            #expect(bar.startMs <= restart.atMs && restart.atMs <= bar.endMs)
        }
        // The code's own failure ran long before the restart: its bar ends left of the marker.
        let own = try #require(failed.first { $0.disruptions.isEmpty })
        #expect(own.x + own.width < restart.x)
        #expect(own.endMs < restart.atMs)
        // The disruption's column spans exited → ready and contains the marker.
        let band = try #require(layout.bands.first)
        #expect(band.seq == 41 && band.x <= restart.x && restart.x <= band.x + band.width)
    }

    @Test func oneLaneperWorkerInNaturalOrder() {
        let workers = ["gw10", "gw2", "main", "gw0", "gw1"]
        let tests = workers.enumerated().map {
            test("t\($0.offset)", $0.element, Double($0.offset), Double($0.offset) + 1)
        }
        let run = RunTimeline(
            command: ["pytest"], started: start, ended: start.addingTimeInterval(6), exitCode: 0,
            services: [:], tests: tests)
        let layout = TimelineLayout(run)
        #expect(layout.workerLanes.map(\.label) == ["main", "gw0", "gw1", "gw2", "gw10"])
        for bar in layout.bars {
            let lane = layout.workerLanes.first { $0.label == run.tests[bar.index].worker }
            #expect(bar.y == lane?.y)
            #expect(bar.height == lane?.height)
        }
        let ys = layout.workerLanes.map(\.y)
        #expect(ys == ys.sorted() && Set(ys).count == ys.count)
    }

    @Test func thirtyTwoWorkersGetThinLanesThatDoNotOverlap() {
        let tests = (0..<32).map { test("t\($0)", "gw\($0)", 0, 1) }
        let layout = TimelineLayout(
            RunTimeline(
                command: [], started: start, ended: start.addingTimeInterval(1), exitCode: 0,
                services: [:], tests: tests))
        #expect(layout.workerLanes.count == 32)
        #expect(layout.workerLanes.allSatisfy { $0.height >= 6 })
        for (upper, lower) in zip(layout.workerLanes, layout.workerLanes.dropFirst()) {
            #expect(upper.y + upper.height < lower.y)
        }
    }

    @Test func scaleMapsTheWindowOntoThePlotAndKeepsTinyTestsVisible() {
        var tests = (0..<10_000).map { test("t\($0)", "gw\($0 % 4)", Double($0) * 0.36, Double($0) * 0.36 + 0.01) }
        tests[0].outcome = "failed"
        let run = RunTimeline(
            command: [], started: start, ended: start.addingTimeInterval(3600), exitCode: 1, services: [:], tests: tests
        )
        let layout = TimelineLayout(run)
        #expect(layout.x(start) == TimelineLayout.plotLeft)
        #expect(layout.x(start.addingTimeInterval(3600)) == TimelineLayout.plotRight)
        #expect(
            abs(layout.x(start.addingTimeInterval(1800)) - (TimelineLayout.plotLeft + TimelineLayout.plotRight) / 2)
                < 0.001)
        #expect(layout.x(start.addingTimeInterval(-5)) == TimelineLayout.plotLeft)
        #expect(layout.bars.count == 10_000)
        #expect(layout.bars.allSatisfy { $0.width >= TimelineLayout.minimumBarWidth })
        #expect(layout.bars.last?.failed == true)  // drawn last, over its neighbours
        // An hour: ticks every 10 minutes, labelled from the start.
        #expect(layout.ticks.map(\.label) == ["0s", "10m", "20m", "30m", "40m", "50m", "1h"])
        #expect(layout.ticks.first?.x == TimelineLayout.plotLeft)
        #expect(layout.ticks.last?.x == TimelineLayout.plotRight)
    }

    @Test func tickStepsAreRoundForShortAndLongRuns() {
        #expect(TimeAxis.step(spanMs: 20_100) == 5_000)
        #expect(TimeAxis.step(spanMs: 1_000) == 200)
        #expect(TimeAxis.label(1_500, step: 500) == "1.5s")
        #expect(TimeAxis.label(90_000, step: 30_000) == "1m30s")
        #expect(TimeAxis.label(40, step: 20) == "40ms")
        let ticks = TimeAxis.ticks(from: start, to: start.addingTimeInterval(20.1), left: 0, right: 100)
        #expect(ticks.map(\.label) == ["0s", "5s", "10s", "15s", "20s"])
    }

    @Test func serviceLaneStatesFollowTheEvents() {
        let events = [
            ServiceEvent(seq: 41, time: at(2), service: "notifier", type: .exited, reason: "killed by signal 9"),
            ServiceEvent(seq: 42, time: at(2.5), service: "notifier", type: .restarted, reason: "killed by signal 9"),
            ServiceEvent(seq: 43, time: at(3), service: "notifier", type: .ready),
            ServiceEvent(seq: 44, time: at(6), service: "notifier", type: .unavailable),
            ServiceEvent(seq: 45, time: at(7), service: "notifier", type: .available),
        ]
        let pieces = ServiceStates.pieces(
            events: events, disruptions: [], from: start, to: start.addingTimeInterval(10))
        #expect(pieces.map(\.state) == ["ready", "down", "starting", "ready", "unavailable", "ready"])
        #expect(pieces[1].reason == "killed by signal 9")
        #expect(pieces.map { $0.start.timeIntervalSince(start) } == [0, 2, 2.5, 3, 6, 7])
        // A disruption that began before the window opens the lane down.
        let open = RunTimeline.Disruption(
            seq: 7, service: "db", kind: .exited, start: start.addingTimeInterval(-4), end: nil,
            reason: "exited with code 1", logTail: [])
        let down = ServiceStates.pieces(events: [], disruptions: [open], from: start, to: start.addingTimeInterval(10))
        #expect(down.map(\.state) == ["down"])
    }

    @Test func aReportWrittenBeforeTestsAndDisruptionsStillDraws() throws {
        let json = """
            {"command":["pytest"],"started":"\(at(0))","ended":"\(at(5))","exit_code":0,"clean":false,
             "services":{"api":{"restarts":1,"restart_detected":0,"unavailable_ms":300,"events":[
               {"seq":3,"time":"\(at(1))","service":"api","type":"exited","reason":"exited with code 1"},
               {"seq":4,"time":"\(at(1.1))","service":"api","type":"restarted","reason":"exited with code 1"},
               {"seq":5,"time":"\(at(1.3))","service":"api","type":"ready"}, {"odd": true}]},
               "db":{"restarts":0,"restart_detected":0,"unavailable_ms":0,"events":[]}}}
            """
        let run = try RunTimeline.decode(Data(json.utf8), name: "old.json")
        #expect(run.tests.isEmpty && run.disruptions.isEmpty && run.postgres.isEmpty)
        #expect(run.services["api"]?.count == 3)
        let layout = TimelineLayout(run)
        #expect(layout.serviceLanes.map(\.label) == ["api", "db"])
        #expect(layout.workerLanes.isEmpty && layout.bars.isEmpty && layout.bands.isEmpty && layout.gauges.isEmpty)
        #expect(layout.markers.count == 1 && layout.markers.first?.seq == nil)
        let html = HTMLReport.render(run)
        #expect(html.contains("no tests recorded"))
        #expect(!html.contains("class=\"bar "))
        #expect(html.contains("class=\"marker restarted\""))
    }

    @Test func oddEntriesAreSkippedNotFatal() throws {
        let json = """
            {"command":["go","test"],"started":"\(at(0))","ended":"\(at(5))","exit_code":1,
             "tests":[{"id":"a","outcome":"failed","start":"\(at(1))","end":"\(at(2))","worker":"main","disruptions":[9]},
                      {"id":"no times","outcome":"passed"},
                      {"id":"b","outcome":"passed","start":"\(at(2))","end":"\(at(3))"}],
             "disruptions":[{"seq":9,"service":"api","kind":"unavailable","start":"\(at(1.5))","end":null}, {"seq":"x"}],
             "postgres":{"db":{"max_connections":100,"samples":[{"time":"\(at(1))","total":5},{"time":"bad","total":7}]}}}
            """
        let run = try RunTimeline.decode(Data(json.utf8), name: "odd.json")
        #expect(run.tests.map(\.id) == ["a", "b"])
        #expect(run.tests[1].worker == "main")
        #expect(run.disruptions.map(\.seq) == [9] && run.disruptions[0].end == nil)
        #expect(run.postgres.first?.samples.count == 1)
        let layout = TimelineLayout(run)
        // An open disruption of a service without a lane still gets its column, to the end of the picture.
        #expect(layout.bands.first.map { abs($0.x + $0.width - TimelineLayout.plotRight) < 0.001 } == true)
        #expect(layout.gauges.first?.limitY == layout.gauges.first?.lane.y)
    }

    @Test func badInputNamesTheFileAndWhatIsWrong() {
        func failure(_ text: String) -> MusterError? {
            do { _ = try RunTimeline.decode(Data(text.utf8), name: "r.json"); return nil } catch {
                return error as? MusterError
            }
        }
        let notJSON = failure("<html>")
        #expect(notJSON?.code == .usage && notJSON?.message.hasPrefix("r.json: not JSON") == true)
        for text in [
            "[1, 2]", "{\"command\": [\"x\"]}", "{\"started\": \"yesterday\", \"ended\": \"today\"}",
            "{\"command\": 3}",
        ] {
            let error = failure(text)
            #expect(
                error?.code == .usage && error?.message.hasPrefix("r.json: not a muster run report") == true, "\(text)")
            #expect(error?.exitCode == 2)
        }
        #expect(throws: MusterError.self) { try RunTimeline.load(path: "/nonexistent/report.json") }
    }

    @Test func textFromTheReportIsEscaped() {
        let evil = test("tests/test_x.py::test_a[<script>alert(\"x\")</script>&]", "gw0", 0, 1, "failed")
        let run = RunTimeline(
            command: ["sh", "-c", "echo '<b>'"], started: start, ended: start.addingTimeInterval(2), exitCode: 1,
            services: [:], tests: [evil])
        let html = HTMLReport.render(run)
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("<code>sh -c echo &#39;&lt;b&gt;&#39;</code>"))
        #expect(html.contains("test_a[&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;]"))
        // One script of the page's own, nothing loaded from elsewhere.
        #expect(html.components(separatedBy: "<script").count == 2)
        #expect(
            !html.contains("src=") && !html.contains("<link") && !html.contains("@import") && !html.contains("url("))
    }
}
