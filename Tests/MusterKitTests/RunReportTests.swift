import Foundation
import Testing
@testable import MusterKit

@Suite struct RunReportTests {
    let start = EventRecord.parseTime("2026-11-22T10:00:00Z")!

    func event(_ seq: Int, _ seconds: Double, _ service: String, _ type: String, reason: String? = nil) -> EventRecord {
        EventRecord(seq: seq, time: EventLog.timestamp(start.addingTimeInterval(seconds)), service: service, type: type, reason: reason)
    }

    @Test func quietWindowIsClean() {
        let report = RunReport(command: ["pytest"], started: start, ended: start.addingTimeInterval(5), exitCode: 0,
                               services: ["api", "db"], events: [])
        #expect(report.clean)
        #expect(report.services["api"] == RunReport.ServiceSummary(restarts: 0, restartDetected: 0, unavailableMs: 0, events: []))
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
        let report = RunReport(command: ["t"], started: start, ended: start.addingTimeInterval(4), exitCode: 0,
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
        let report = RunReport(command: ["t"], started: start, ended: start.addingTimeInterval(3), exitCode: 1,
                               services: ["api"], events: [event(1, 1.0, "api", "exited", reason: "killed by SIGKILL")])
        #expect(report.services["api"]?.unavailableMs == 2000)
        #expect(!report.clean)
    }

    @Test func jsonFollowsTheSpec() throws {
        let report = RunReport(command: ["pytest", "-x"], started: start, ended: start.addingTimeInterval(1), exitCode: 0,
                               services: ["api"], events: [])
        let object = try #require(try JSONSerialization.jsonObject(with: report.json) as? [String: Any])
        #expect(object["command"] as? [String] == ["pytest", "-x"])
        #expect(object["exit_code"] as? Int == 0)
        #expect(object["clean"] as? Bool == true)
        #expect(object["started"] as? String == "2026-11-22T10:00:00.000000Z")
        let api = try #require((object["services"] as? [String: Any])?["api"] as? [String: Any])
        #expect(Set(api.keys) == ["restarts", "restart_detected", "unavailable_ms", "events"])
    }

    @Test func humanLines() {
        var restarted = event(3, 0, "notifier", "restarted", reason: "exited with code 1 after 3.2s; was ready")
        restarted.pid = 20
        restarted.previousPid = 10
        restarted.logTail = ["a", "b", "KeyError: 'x'"]
        let line = restarted.humanLine(timeZone: TimeZone(identifier: "UTC")!)
        #expect(line == "10:00:00.000 notifier restarted (exited with code 1 after 3.2s; was ready) pid 10 → 20 — last lines: a ⏎ b ⏎ KeyError: 'x'")
        #expect(event(4, 0.5, "db", "restart_detected", reason: "x").humanLine(timeZone: TimeZone(identifier: "UTC")!)
                == "10:00:00.500 db restarted without muster: x")
    }

    @Test func identityTracker() {
        var tracker = IdentityTracker()
        #expect(tracker.observe("a") == nil)
        #expect(tracker.observe("a") == nil)
        #expect(tracker.observe("b") == "a")
        #expect(tracker.current == "b")
    }
}
