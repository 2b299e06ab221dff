import Foundation
import Testing
@testable import MusterKit

@Suite struct RunReportTests {
    let start = RFC3339.time("2026-11-22T10:00:00Z")!

    func event(_ seq: Int, _ seconds: Double, _ service: String, _ type: String, reason: String? = nil) -> ServiceEvent
    {
        ServiceEvent(
            seq: seq, time: EventLog.timestamp(start.addingTimeInterval(seconds)), service: service,
            type: EventKind(rawValue: type), reason: reason)
    }

    @Test func quietWindowIsClean() {
        let report = RunReport(
            command: ["pytest"], started: start, ended: start.addingTimeInterval(5), exitCode: 0,
            services: ["api", "db"], events: [])
        #expect(report.clean)
        #expect(
            report.services["api"]
                == RunReport.ServiceSummary(restarts: 0, restartDetected: 0, unavailableMs: 0, events: []))
        #expect(report.findings.isEmpty)
    }

    @Test func restartCountsAndDowntime() {
        let events = [
            event(10, 1.0, "notifier", "exited", reason: "exited with code 1 after 3.2s; was ready"),
            event(11, 1.1, "notifier", "restarted", reason: "exited with code 1 after 3.2s; was ready"),
            event(12, 1.5, "notifier", "ready"),
            event(13, 2.0, "api", "unavailable", reason: "alive probe failed 3 times"),
            event(14, 2.25, "api", "available"),
            event(15, 3.0, "db", "restart_detected", reason: "postgres reinitialised"),
        ]
        let report = RunReport(
            command: ["t"], started: start, ended: start.addingTimeInterval(4), exitCode: 0,
            services: ["notifier", "api", "db", "cache"], events: events)
        #expect(!report.clean)
        #expect(report.services["notifier"]?.restarts == 1)
        #expect(report.services["notifier"]?.unavailableMs == 500)
        #expect(report.services["api"]?.unavailableMs == 250)
        #expect(report.services["db"]?.restartDetected == 1)
        #expect(report.services["cache"]?.events.isEmpty == true)
        #expect(report.findings.map(\.service) == ["api", "db", "notifier"])
        #expect(report.findings.last?.text.contains("exited with code 1") == true)
    }

    @Test func downUntilTheEndOfTheWindow() {
        let report = RunReport(
            command: ["t"], started: start, ended: start.addingTimeInterval(3), exitCode: 1,
            services: ["api"], events: [event(1, 1.0, "api", "exited", reason: "killed by SIGKILL")])
        #expect(report.services["api"]?.unavailableMs == 2000)
        #expect(!report.clean)
    }

    @Test func jsonFollowsTheSpec() throws {
        let report = RunReport(
            command: ["pytest", "-x"], started: start, ended: start.addingTimeInterval(1), exitCode: 0,
            services: ["api"], events: [])
        let object = try #require(try JSONSerialization.jsonObject(with: report.json) as? [String: Any])
        #expect(object["command"] as? [String] == ["pytest", "-x"])
        #expect(object["exit_code"] as? Int == 0)
        #expect(object["clean"] as? Bool == true)
        #expect(object["started"] as? String == "2026-11-22T10:00:00.000000Z")
        let api = try #require((object["services"] as? [String: Any])?["api"] as? [String: Any])
        #expect(Set(api.keys) == ["restarts", "restart_detected", "unavailable_ms", "events", "tests"])
        #expect(object["tests"] as? [Any] != nil && object["disruptions"] as? [Any] != nil)
        #expect(object["postgres"] == nil)
    }

    @Test func testsAreAttributedInTheReport() throws {
        let events = [
            event(10, 1.0, "notifier", "exited", reason: "exited with code 1 after 3.2s; was ready"),
            event(11, 1.1, "notifier", "restarted", reason: "exited with code 1 after 3.2s; was ready"),
            event(12, 1.5, "notifier", "ready"),
        ]
        let tests = [
            TestRecord(
                id: "t::a", outcome: "failed", start: start.timeIntervalSince1970 + 0.5,
                end: start.timeIntervalSince1970 + 1.2,
                worker: "gw0", source: "pytest"),
            TestRecord(
                id: "t::b", outcome: "failed", start: start.timeIntervalSince1970 + 2,
                end: start.timeIntervalSince1970 + 3,
                worker: "gw1", source: "pytest"),
        ]
        var pressure = PostgresPressure(maxConnections: 10)
        pressure.add(time: start, rows: [("api", 3), ("pytest", 6)], maxConnections: 10)
        pressure.add(time: start.addingTimeInterval(1), rows: [("api", 2)], maxConnections: 10)
        let report = RunReport(
            command: ["t"], started: start, ended: start.addingTimeInterval(4), exitCode: 1,
            services: ["notifier", "db"], events: events, tests: tests, postgres: ["db": pressure])
        #expect(report.tests?.map(\.disruptions) == [[10], []])
        #expect(report.services["notifier"]?.tests == ["t::a"])
        #expect(report.services["db"]?.tests == [])
        #expect(report.disruptions?.map(\.kind) == [.restarted])
        #expect(
            pressure.peak == 9 && pressure.byApplication == ["api": 3, "pytest": 6]
                && pressure.samples.map(\.total) == [9, 2])
        #expect(
            pressure.line(service: "db")
                == "db: connections peaked at 9 of max_connections 10 (90 %); held by pytest (6), api (3)")

        let object = try #require(try JSONSerialization.jsonObject(with: report.json) as? [String: Any])
        let first = try #require((object["tests"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["id", "outcome", "start", "end", "worker", "source", "disruptions"])
        #expect(first["disruptions"] as? [Int] == [10])
        let db = try #require((object["postgres"] as? [String: Any])?["db"] as? [String: Any])
        #expect(Set(db.keys) == ["max_connections", "peak", "peak_at", "by_application", "samples"])
        // Application names are data, not keys to convert.
        #expect((db["by_application"] as? [String: Int])?.keys.sorted() == ["api", "pytest"])
        // Reports written before tests were read still decode.
        let old =
            #"{"command":["t"],"started":"x","ended":"y","exit_code":0,"clean":true,"services":{"api":{"restarts":0,"restart_detected":0,"unavailable_ms":0,"events":[]}}}"#
        let decoded = try ControlJSON.decode(RunReport.self, from: Data(old.utf8))
        #expect(decoded.tests == nil && decoded.services["api"]?.tests == nil)
    }

    @Test func humanLines() {
        var restarted = event(3, 0, "notifier", "restarted", reason: "exited with code 1 after 3.2s; was ready")
        restarted.pid = 20
        restarted.previousPid = 10
        restarted.logTail = ["a", "b", "KeyError: 'x'"]
        let line = restarted.humanLine(timeZone: TimeZone(identifier: "UTC")!)
        #expect(
            line
                == "10:00:00.000 notifier restarted (exited with code 1 after 3.2s; was ready) pid 10 → 20 — last lines: a ⏎ b ⏎ KeyError: 'x'"
        )
        #expect(
            event(4, 0.5, "db", "restart_detected", reason: "x").humanLine(timeZone: TimeZone(identifier: "UTC")!)
                == "10:00:00.500 db restarted without muster: x")
    }

    @Test func identityTracker() {
        var tracker = IdentityTracker()
        let start = Date(timeIntervalSince1970: 1_000)
        #expect(tracker.observe("a", at: start) == nil)
        #expect(tracker.observe("a", at: start.addingTimeInterval(1)) == nil)
        #expect(tracker.observe("b", at: start.addingTimeInterval(2)) == "a")
        #expect(tracker.current == "b")
        #expect(tracker.previousSeenAt == start.addingTimeInterval(1), "the old identity's last look")
    }
}
