import Foundation
import Testing
@testable import MusterKit

/// The one definition of a disruption, and which tests overlap one.
@Suite struct DisruptionTests {
    static let base = RFC3339.seconds("2026-12-03T08:00:00Z")!

    static func at(_ seconds: Double) -> String { EventLog.timestamp(Date(timeIntervalSince1970: base + seconds)) }

    static func event(
        _ seq: Int, _ seconds: Double, _ service: String, _ type: String, reason: String? = nil,
        logTail: [String]? = nil, since: Double? = nil
    ) -> ServiceEvent {
        ServiceEvent(
            seq: seq, time: at(seconds), service: service, type: EventKind(rawValue: type), reason: reason,
            logTail: logTail ?? [], since: since.map(at))
    }

    static let events = [
        event(1, 0, "notifier", "starting"),
        event(2, 0.5, "notifier", "ready"),
        event(
            3, 10, "notifier", "exited", reason: "exited with code 1 after 9.5s; was ready", logTail: ["a", "KeyError"]),
        event(
            4, 10.1, "notifier", "restarted", reason: "exited with code 1 after 9.5s; was ready",
            logTail: ["a", "KeyError"]),
        event(5, 10.6, "notifier", "ready"),
        event(6, 12, "api", "unavailable", reason: "alive probe failed 3 times"),
        event(7, 13, "api", "available"),
        event(8, 15, "db", "restart_detected", reason: "postgres restarted", since: 14.5),
        event(9, 16, "cache", "restart_detected", reason: "redis restarted"),
        event(10, 17, "worker", "exited", reason: "exited with code 2 after 1s; was ready"),
        event(11, 17.5, "worker", "warning", reason: "not a disruption"),
    ]

    static func test(_ id: String, _ from: Double, _ to: Double, _ outcome: String = "passed") -> TestRecord {
        TestRecord(id: id, outcome: outcome, start: base + from, end: base + to, worker: "main", source: "pytest")
    }

    @Test func definition() {
        let found = Disruption.from(Self.events.shuffled())
        #expect(found.map(\.seq) == [3, 6, 8, 9, 10])
        #expect(found.map(\.kind) == [.restarted, .unavailable, .restartDetected, .restartDetected, .exited])
        #expect(found.map(\.service) == ["notifier", "api", "db", "cache", "worker"])
        #expect(found[0].start == Self.at(10) && found[0].end == Self.at(10.6))
        #expect(found[0].reason == "exited with code 1 after 9.5s; was ready" && found[0].logTail == ["a", "KeyError"])
        // restart_detected with since covers [since, time]; without, its instant alone.
        #expect(found[2].start == Self.at(14.5) && found[2].end == Self.at(15))
        #expect(found[3].start == Self.at(16) && found[3].end == Self.at(16))
        // Still down: open.
        #expect(found[4].end == nil && found[4].endSeconds == .infinity)
    }

    @Test func aSecondBeginningInsideAnOpenOneDoesNotStartAnother() {
        let events = [
            Self.event(1, 1, "api", "stopping", reason: "restart requested"),
            Self.event(2, 2, "api", "unavailable"),
            Self.event(3, 3, "api", "ready"),
            Self.event(4, 4, "api", "failed", reason: "exited with code 1 before it was ready"),
        ]
        let found = Disruption.from(events)
        #expect(found.map(\.seq) == [1, 4])
        #expect(found[0].kind == .stopping && found[0].end == Self.at(3))
        #expect(found[1].kind == .failed && found[1].end == nil)
    }

    @Test func attribution() {
        let tests = [
            Self.test("before", 1, 9.9, "failed"),
            Self.test("touches-start", 9, 10),
            Self.test("inside", 10.2, 10.3, "failed"),
            Self.test("touches-end", 10.6, 11),
            Self.test("after", 10.7, 11.9),
            Self.test("across", 10.5, 12.5, "error"),
            Self.test("before-since", 14, 14.4),
            Self.test("within-since", 14.6, 14.7),
            Self.test("around-instant", 15.9, 16.1),
            Self.test("open", 100, 101, "failed"),
        ]
        let result = TestAttribution.attribute(tests, to: Disruption.from(Self.events))
        let byId = Dictionary(uniqueKeysWithValues: result.tests.map { ($0.id, $0.disruptions) })
        #expect(byId["before"] == [])
        #expect(byId["touches-start"] == [3])
        #expect(byId["inside"] == [3])
        #expect(byId["touches-end"] == [3])
        #expect(byId["after"] == [])
        #expect(byId["across"] == [3, 6])
        #expect(byId["before-since"] == [])
        #expect(byId["within-since"] == [8])
        #expect(byId["around-instant"] == [9])
        #expect(byId["open"] == [10])
        #expect(result.tests.map(\.id) == tests.map(\.id))
        #expect(result.testsByService["notifier"] == ["touches-start", "inside", "touches-end", "across"])
        #expect(result.testsByService["api"] == ["across"])
        #expect(result.testsByService["db"] == ["within-since"])
        #expect(result.testsByService["worker"] == ["open"])

        let lines = TestAttribution.summary(tests: result.tests, disruptions: Disruption.from(Self.events))
        #expect(
            lines == [
                "1 failing test overlapped an unavailability of api: across",
                "2 failing tests overlapped a restart of notifier: inside, across",
                "1 failing test overlapped an exit of worker: open",
                "1 failing test overlapped no disruption (the code's own failures): before",
            ])
    }

    @Test func manyOverlappingDisruptionsAndNoDisruptions() {
        // A restart_detected inside a long unavailability of another service: both found.
        let events = [
            Self.event(1, 0, "api", "unavailable"),
            Self.event(2, 5, "db", "restart_detected", since: 4),
            Self.event(3, 50, "api", "available"),
        ]
        let result = TestAttribution.attribute(
            [Self.test("t", 4.5, 4.6), Self.test("u", 20, 21)], to: Disruption.from(events))
        #expect(result.tests.map(\.disruptions) == [[1, 2], [1]])
        #expect(TestAttribution.attribute([Self.test("t", 1, 2)], to: []).tests[0].disruptions == [])
    }

    @Test func longListsStayReadable() {
        #expect(TestAttribution.list(["a", "b", "c"], show: 5) == "a, b, c")
        #expect(TestAttribution.list(["a", "b", "c", "d", "e", "f", "g"], show: 5) == "a, b, c, d, e and 2 more")
        let tests = (1...40).map { Self.test("t\($0)", 10, 10.1, "failed") }
        let lines = TestAttribution.summary(
            tests: TestAttribution.attribute(tests, to: Disruption.from(Self.events)).tests,
            disruptions: Disruption.from(Self.events))
        #expect(lines == ["40 failing tests overlapped a restart of notifier: t1, t2, t3, t4, t5 and 35 more"])
    }

    @Test func windowAndJSON() throws {
        let found = Disruption.overlapping(
            Self.events, from: Date(timeIntervalSince1970: Self.base + 12.5),
            to: Date(timeIntervalSince1970: Self.base + 15.5))
        #expect(found.map(\.seq) == [6, 8])
        let open = Disruption.overlapping(Self.events, from: Date(timeIntervalSince1970: Self.base + 1000), to: nil)
        #expect(open.map(\.seq) == [10])
        let data = ControlJSON.encode(DisruptionsReport(disruptions: open))
        let first = try #require(try JSONValue.parse(data)["disruptions"]?.arrayValue?.first)
        #expect(first["end"] == .null)
        #expect(
            Set((first.objectMembers ?? []).map(\.key)) == [
                "seq", "service", "kind", "start", "end", "reason", "log_tail",
            ])
        let back = try ControlJSON.decode(DisruptionsReport.self, from: data)
        #expect(back.disruptions == open)
    }

    @Test func sinceIsWrittenAndReadBack() throws {
        let when = Date(timeIntervalSince1970: Self.base + 3)
        let line = ServiceEvent(
            service: "db", type: .restartDetected, reason: "x", time: when.addingTimeInterval(0.5), since: when
        ).line
        #expect(line.contains("\"since\":\"2026-12-03T08:00:03.000000Z\""))
        #expect(ServiceEvent.parse(line)?.since == "2026-12-03T08:00:03.000000Z")
        let plain = ServiceEvent(service: "db", type: .ready, time: when).line
        #expect(!plain.contains("since"))
        var tracker = IdentityTracker()
        _ = tracker.observe("a", at: when)
        _ = tracker.observe("a", at: when.addingTimeInterval(1))
        #expect(tracker.observe("b", at: when.addingTimeInterval(2)) == "a")
        #expect(tracker.previousSeenAt == when.addingTimeInterval(1))
    }

    @Test func timestamps() {
        #expect(RFC3339.seconds("2026-12-03T08:00:00Z") == 1_796_284_800)
        #expect(RFC3339.seconds("2026-12-03T09:00:00.250+01:00") == 1_796_284_800.25)
        #expect(RFC3339.seconds("2026-12-03T08:00:00.123456789Z")! - 1_796_284_800 > 0.1234)
        #expect(RFC3339.seconds("2026-12-03T08:00:00") == nil)
        #expect(RFC3339.seconds("2026-12-03T08:00:00", localIfNoZone: TimeZone(identifier: "UTC")) == 1_796_284_800)
        #expect(
            RFC3339.seconds("2026-12-03T09:00:00", localIfNoZone: TimeZone(identifier: "Europe/Paris")) == 1_796_284_800
        )
        for bad in [
            "", "yesterday", "2026-13-03T08:00:00Z", "2026-12-03T08:00:00Q", "2026-12-03T08:00Z",
            "2026-12-03T08:00:00.Z",
        ] {
            #expect(RFC3339.seconds(bad) == nil, "\(bad)")
        }
        #expect(RFC3339.time("2026-12-03T08:00:00.5Z")?.timeIntervalSince1970 == 1_796_284_800.5)
    }
}
