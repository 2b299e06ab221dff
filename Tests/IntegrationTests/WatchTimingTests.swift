import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

// When a change comes: during a restart, during `muster run`'s command.

/// Changes while a restart is under way: exactly one more restart after it, whatever
/// their number; never lost, never a loop.
@Suite(.serialized) struct WatchDuringRestartTests {
    @Test func changesDuringARestartGiveExactlyOneMore() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "trap 'while [ ! -f release ]; do sleep 0.05; done; exit 0' TERM; cat app/v.txt; echo up; while true; do sleep 0.05; done"
                ready: { log: up }
                stop_timeout: 2m
                watch: [app]
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(atPath: stack.directory + "/app", withIntermediateDirectories: true)
        let file = stack.directory + "/app/v.txt"
        try "v1\n".write(toFile: file, atomically: false, encoding: .utf8)
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        func count(_ type: String) -> Int {
            stack.events().filter { $0.service == "api" && $0.type.rawValue == type }.count
        }
        try "v2\n".write(toFile: file, atomically: false, encoding: .utf8)
        // The stop lasts until the test lets it end: three more edits land while it runs,
        // however loaded the machine.
        #expect(await eventually(within: .seconds(30)) { count("stopping") >= 1 })
        for version in 3...5 {
            try "v\(version)\n".write(toFile: file, atomically: false, encoding: .utf8)
            // Apart by more than the debounce: three changes, not one batch (waits for nothing).
            try await Task.sleep(for: .milliseconds(150))
        }
        try #require(count("restarted") == 0, "the edits were meant to land while the first restart's stop ran")
        _ = FileManager.default.createFile(atPath: stack.directory + "/release", contents: nil)
        #expect(await eventually(within: .seconds(30)) { count("restarted") == 2 && count("ready") == 3 })
        // And nothing after, no loop: the next restart is the one another file's edit causes.
        try "w\n".write(toFile: stack.directory + "/app/w.txt", atomically: false, encoding: .utf8)
        #expect(await eventually(within: .seconds(30)) { count("restarted") >= 3 && count("ready") >= 4 })
        let reasons = stack.events().filter { $0.type.rawValue == "restarted" }.compactMap { $0.reason }
        #expect(
            reasons == ["files changed: app/v.txt", "files changed: app/v.txt", "files changed: app/w.txt"],
            "\(reasons)")
        #expect(try await stack.muster("down").status == 0)
    }
}

/// A restart a file change caused while `muster run`'s command ran is a disruption in
/// its report, with the change as the reason.
@Suite(.serialized) struct WatchDuringRunTests {
    @Test func aChangeDuringRunIsInTheReport() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "cat app/v.txt; echo up; exec sleep 300"
                ready: { log: up }
                watch: [app]
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(atPath: stack.directory + "/app", withIntermediateDirectories: true)
        try "v1\n".write(toFile: stack.directory + "/app/v.txt", atomically: false, encoding: .utf8)
        let run = try await stack.muster("run", "--", "sh", "-c", "echo v2 > app/v.txt; sleep 1.5")
        #expect(run.output.contains("api: restarted 1×"), "\(run.output)")
        #expect(run.output.contains("files changed: app/v.txt"), "\(run.output)")
        #expect(
            RuntimeState.readAny(stack.paths) == nil || !ProcessTable.isAlive(RuntimeState.readAny(stack.paths)!.pid))
    }
}
