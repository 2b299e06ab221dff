import CMusterShims
import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SupportTests {
    @Test func tailBufferKeepsLastLines() {
        var tail = TailBuffer(capacity: 64)
        for i in 1...100 { tail.append(Array("line \(i)\n".utf8)) }
        #expect(tail.lastLines(3) == ["line 98", "line 99", "line 100"])
        #expect(!tail.lastLines(100).contains("line 1"))
    }

    @Test func procStatOfThisProcess() throws {
        let entry = try #require(ProcessTable.entry(getpid()))
        #expect(entry.pid == getpid())
        #expect(entry.ppid == getppid())
        #expect(entry.processGroup == getpgrp())
        #expect(entry.session == getsid(0))
        #expect(entry.isAlive)
        // starttime (field 22) is the 20th field after the closing parenthesis.
        let text = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
        let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(separator: " ")
        #expect(entry.startTime == UInt64(fields[19]))
        // num_threads (field 20) decides whether `up -d` may fork: a test process is
        // multi-threaded, so it must say more than one.
        #expect(muster_thread_count() > 1)
        #expect(ProcessTable.entry(Int32.max) == nil)
    }

    @Test func procStatOfAProgramWithParenthesesAndSpacesInItsName() async throws {
        // The name sits in parentheses in /proc/PID/stat and may hold both.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muster-stat-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let program = folder + "/a) (b c"
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: program)
        // Through muster's own spawner: its reaper owns every child of this process.
        let pid = try await ProcessSpawner.shared.spawn(
            SpawnRequest(executable: program, arguments: [program, "600"], environment: []))  // killed below
        defer {
            kill(pid, SIGKILL)
            ProcessReaper.shared.forget(pid)
        }
        let entry = try #require(ProcessTable.entry(pid))
        #expect(entry.name == "a) (b c")
        #expect(entry.ppid == getpid())
        #expect(entry.processGroup == pid)  // its own session and group
        #expect(entry.isAlive)
        #expect(ProcessTable.members(ofGroups: [entry.processGroup]).contains { $0.pid == pid })
    }

    @Test func suggestions() {
        #expect(Suggestion.closest(to: "comand", in: ["command", "env"]) == "command")
        #expect(Suggestion.closest(to: "xyz", in: ["command", "env"]) == nil)
    }

    @Test func eventTimestampsHaveMicroseconds() {
        let text = EventLog.timestamp(Date(timeIntervalSince1970: 1_795_000_000.123456))
        #expect(text.hasSuffix("Z"))
        #expect(text.count == "2026-11-22T10:00:01.123456Z".count)
    }
}
