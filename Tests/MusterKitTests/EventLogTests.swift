import Foundation
import Testing
@testable import MusterKit

/// The seq of the last event survives a supervisor restart: the next event goes on
/// from it, found by reading the end of the file only.
@Suite struct EventLogTests {
    func withFile(_ text: String, _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "events-\(getpid())-\(Int.random(in: 0..<1_000_000)).jsonl"
        ).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    func line(_ seq: Int, _ type: String = "ready", reason: String? = nil) -> String {
        "{\"seq\":\(seq),\"time\":\"2026-11-22T10:00:01.123456Z\",\"service\":\"db\",\"type\":\"\(type)\""
            + (reason.map { ",\"reason\":\"\($0)\"" } ?? "") + "}\n"
    }

    @Test func lastSeqReadsTheLastCompleteLine() throws {
        try withFile(line(1, "starting") + line(2)) { #expect(EventLog.lastSeq(in: $0) == 2) }
        // A line cut short by a crash mid-write, and blank lines, are skipped.
        try withFile(line(7) + "\n" + String(line(8).prefix(20))) { #expect(EventLog.lastSeq(in: $0) == 7) }
        try withFile("") { #expect(EventLog.lastSeq(in: $0) == 0) }
        #expect(EventLog.lastSeq(in: "/nonexistent/events.jsonl") == 0)
    }

    @Test func lastSeqOfALargeLogAndTheNextAppend() throws {
        // 200 KB of events with multi-byte text: only the end is read.
        var text = ""
        for seq in 1...1500 { text += line(seq, "exited", reason: "ünïcödé \(String(repeating: "x", count: 100))") }
        try withFile(text) { path in
            #expect(EventLog.lastSeq(in: path) == 1500)
            let log = try EventLog(path: path)
            #expect(log.append(ServiceEvent(service: "db", type: .ready)) == 1501)
        }
    }
}
