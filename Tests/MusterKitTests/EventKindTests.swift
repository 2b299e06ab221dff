import Foundation
import Testing
@testable import MusterKit

/// The one event vocabulary: events written before it existed read back with the
/// same kinds and are written again byte for byte; its definitions of disruptive
/// and down are the ones every reader uses.
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

    @Test func eventsWrittenBeforeReadBackAndWriteAgainByteForByte() throws {
        let lines = try String(contentsOfFile: Self.fixture, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 24)
        var kinds: Set<EventKind> = []
        for line in lines {
            let record = try #require(EventRecord.parse(line), "\(line)")
            kinds.insert(record.type)
            #expect(EventKind.all.contains(record.type), "\(record.type) is not in the vocabulary")
            let event = ServiceEvent(service: record.service, type: record.type, pid: record.pid, previousPid: record.previousPid,
                                     restarts: record.restarts ?? 0, reason: record.reason, logTail: record.logTail ?? [],
                                     durationMs: record.durationMs.map(Int64.init), time: try #require(record.date),
                                     since: record.since.flatMap(EventRecord.parseTime))
            #expect(EventLog.encode(event, seq: record.seq) == line)
            // What the control API serves (`ControlJSON`) holds the same fields and the same type string.
            let served = try #require(try JSONSerialization.jsonObject(with: ControlJSON.encode(record)) as? [String: Any])
            let written = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(NSDictionary(dictionary: served).isEqual(to: written), "\(served) vs \(written)")
        }
        #expect(kinds == [.starting, .ready, .completed, .exited, .restarted, .failed, .stopping, .stopped,
                          .restartDetected, .unavailable, .available])
    }

    @Test func aKindMusterDoesNotKnowIsKeptAsWritten() throws {
        let line = #"{"seq":1,"time":"2026-12-03T08:00:00.000000Z","service":"db","type":"resized","restarts":0}"#
        let record = try #require(EventRecord.parse(line))
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
