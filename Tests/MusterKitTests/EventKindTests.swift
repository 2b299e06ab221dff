import Foundation
import Testing
@testable import MusterKit

/// The one event value and its vocabulary: events written before either existed read
/// back with the same kinds and are written again byte for byte, by `line` and by the
/// event log; what the control API and the run report encode holds the same fields;
/// its definitions of disruptive and down are the ones every reader uses.
@Suite struct EventKindTests {
    static let fixture: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        // Written by muster 22bfb12 (before EventKind) for a stack with a service that
        // exits and is restarted then fails, a task, an alive probe that fails and
        // passes again, a wrapper whose program was killed behind muster's back, and `down`.
        return url.appendingPathComponent("Fixtures/events/written-before-event-kinds.jsonl").path
    }()

    static func sortedMembers(_ value: JSONValue) -> [JSONValue.Member] {
        (value.objectMembers ?? []).sorted { $0.key < $1.key }
    }

    @Test func eventsWrittenBeforeReadBackAndWriteAgainByteForByte() throws {
        let lines = try String(contentsOfFile: Self.fixture, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 24)
        var kinds: Set<EventKind> = []
        var events: [ServiceEvent] = []
        for line in lines {
            let event = try #require(ServiceEvent.parse(line), "\(line)")
            kinds.insert(event.type)
            events.append(event)
            #expect(EventKind.all.contains(event.type), "\(event.type) is not in the vocabulary")
            #expect(event.line == line)
            // What the control API and the run report encode (`ControlJSON`): the same fields, values and type string.
            let encoded = ControlJSON.encode(event)
            #expect(
                Self.sortedMembers(try JSONValue.parse(encoded))
                    == Self.sortedMembers(try JSONValue.parse(Data(line.utf8))),
                "\(String(decoding: encoded, as: UTF8.self)) vs \(line)")
            #expect(try ControlJSON.decode(ServiceEvent.self, from: encoded) == event)
        }
        #expect(
            kinds == [
                .starting, .ready, .completed, .exited, .restarted, .failed, .stopping, .stopped,
                .restartDetected, .unavailable, .available,
            ])
        // Appended again through an event log (the first 23: one run, numbered 1...23), the file is those lines.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muster-events-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let log = try EventLog(path: folder + "/events.jsonl")
        for var event in events.prefix(23) {
            event.seq = 0
            log.append(event)
        }
        #expect(try String(contentsOfFile: log.path, encoding: .utf8) == lines.prefix(23).map { $0 + "\n" }.joined())
    }

    @Test func theSpecExampleAndAHandWrittenLineReadBack() throws {
        let example =
            #"{"seq":17,"time":"2026-11-22T10:00:01.123456Z","service":"api","type":"restarted","pid":4242,"previous_pid":4200,"restarts":1,"reason":"exited with code 1","log_tail":["..."]}"#
        let event = try #require(ServiceEvent.parse(example))
        #expect(
            event.type == .restarted && event.previousPid == 4200 && event.logTail == ["..."] && event.line == example)
        // Without restarts or log_tail (by hand): read with none, written with `"restarts":0`.
        let minimal = try #require(
            ServiceEvent.parse(#"{"seq":3,"time":"2026-11-22T10:00:01Z","service":"db","type":"ready"}"#))
        #expect(minimal.restarts == 0 && minimal.logTail.isEmpty && minimal.date != nil)
        #expect(minimal.line == #"{"seq":3,"time":"2026-11-22T10:00:01Z","service":"db","type":"ready","restarts":0}"#)
        #expect(ServiceEvent.parse(#"{"seq":3,"service":"db","type":"ready"}"#) == nil, "no time: not an event")
    }

    @Test func whatTheLifecycleEmitsIsNamedAndStampedByTheRunner() throws {
        var machine = ServiceLifecycle(
            policy: .init(
                hasReadyProbe: false, hasAliveProbe: false, restart: .no, maxRestarts: nil,
                stopSignal: SIGTERM, stopTimeout: .seconds(1)))
        _ = machine.handle(.start)
        let records = machine.handle(.spawned(pid: 42, generation: 1)).compactMap { action -> ServiceEvent? in
            if case let .record(event) = action { return event } else { return nil }
        }
        #expect(records.map(\.type) == [.starting, .ready])
        #expect(records.allSatisfy { $0.service.isEmpty && $0.time.isEmpty && $0.pid == 42 && $0.seq == 0 })
        let when = Date(timeIntervalSince1970: 1_790_000_000.25)
        let stamped = records[0].stamped(service: "api", at: when)
        #expect(
            stamped.line
                == #"{"seq":0,"time":"2026-09-21T14:13:20.250000Z","service":"api","type":"starting","pid":42,"restarts":0}"#
        )
    }

    @Test func aKindMusterDoesNotKnowIsKeptAsWritten() throws {
        let line = #"{"seq":1,"time":"2026-12-03T08:00:00.000000Z","service":"db","type":"resized","restarts":0}"#
        let record = try #require(ServiceEvent.parse(line))
        #expect(record.type.rawValue == "resized" && !record.type.isDisruptive && !record.type.isDown)
        let again = try #require(String(data: ControlJSON.encode(record), encoding: .utf8))
        #expect(again.contains(#""type":"resized""#))
    }

    @Test func theDefinitions() {
        let disruptive = EventKind.all.filter(\.isDisruptive)
        #expect(disruptive == [.exited, .restarted, .failed, .stopping, .stopped, .restartDetected, .unavailable])
        #expect(EventKind.all.filter(\.beginsDisruption) == [.exited, .restarted, .failed, .stopping, .unavailable])
        #expect(EventKind.all.filter(\.endsDisruption) == [.ready, .completed, .available])
        #expect(EventKind.all.filter(\.isDown) == [.exited, .failed, .stopping, .stopped])
        #expect(EventKind.all.filter(\.isFault) == [.exited, .restarted, .failed, .restartDetected, .unavailable])
        // Every kind that begins a disruption is disruptive; nothing serving is.
        #expect(EventKind.all.allSatisfy { !$0.beginsDisruption || $0.isDisruptive })
        #expect(EventKind.all.allSatisfy { !($0.isServing && ($0.isDisruptive || $0.isDown)) })
        #expect(EventKind.restartDetected.words == "restart detected" && EventKind.restartDetected.noun == "restart")
    }
}
