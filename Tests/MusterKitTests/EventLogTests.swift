import Foundation
import Testing
@testable import MusterKit

/// The seq of the last event survives a supervisor restart: the next event goes on
/// from it, found by reading the end of the file only.
@Suite struct EventLogTests {
    func withFile(_ text: String, _ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(getpid())-\(Int.random(in: 0..<1_000_000)).jsonl").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test func lastSeqReadsTheLastCompleteLine() throws {
        try withFile("{\"seq\":1,\"type\":\"starting\"}\n{\"seq\":2,\"type\":\"ready\"}\n") { #expect(EventLog.lastSeq(in: $0) == 2) }
        // A line cut short by a crash mid-write, and blank lines, are skipped.
        try withFile("{\"seq\":7,\"type\":\"ready\"}\n\n{\"seq\":8,\"ty") { #expect(EventLog.lastSeq(in: $0) == 7) }
        try withFile("") { #expect(EventLog.lastSeq(in: $0) == 0) }
        #expect(EventLog.lastSeq(in: "/nonexistent/events.jsonl") == 0)
    }

    @Test func lastSeqOfALargeLogAndTheNextAppend() throws {
        // 200 KB of events with multi-byte text: only the end is read.
        var text = ""
        for seq in 1...1500 { text += "{\"seq\":\(seq),\"type\":\"exited\",\"reason\":\"ünïcödé \(String(repeating: "x", count: 100))\"}\n" }
        try withFile(text) { path in
            #expect(EventLog.lastSeq(in: path) == 1500)
            let log = try EventLog(path: path)
            #expect(log.append(ServiceEvent(service: "db", type: "ready")) == 1501)
        }
    }
}
