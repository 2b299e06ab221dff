import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

// What must not hold the loop up: more folders than inotify may watch, a build step
// that hangs.

/// Past the watch limit (a small one through the seam, `MUSTER_WATCH_LIMIT`), one
/// warning names the sysctl and the folders that did not fit are polled; an editor's
/// rename-over save in one of them still restarts the service.
@Suite(.serialized) struct WatchLimitTests {
    @Test func pastTheLimitOneWarningAndPolling() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "echo up; exec sleep 300"
                ready: { log: up }
                watch: [app]
            """)
        defer { stack.cleanup() }
        for folder in ["a", "b", "c"] {
            try FileManager.default.createDirectory(
                atPath: stack.directory + "/app/" + folder, withIntermediateDirectories: true)
            try "v1\n".write(toFile: stack.directory + "/app/\(folder)/x.py", atomically: false, encoding: .utf8)
        }
        let up = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"], in: stack.directory,
            environment: ["MUSTER_WATCH_LIMIT": "1"])
        try #require(up.status == 0, "\(up.output)")
        func warnings() -> [String] {
            stack.events().filter { $0.type.rawValue == "warning" }.compactMap { $0.reason }
                .filter { $0.contains("fs.inotify.max_user_watches") }
        }
        #expect(await eventually { warnings().count == 1 })
        func api() async -> ServiceStatus? { try? await stack.status().services.first { $0.name == "api" } }
        let first = try #require(await api()?.pid)
        // An editor's save: a new file renamed over the old one, in a polled folder.
        let temporary = stack.directory + "/app/c/x.py.tmp"
        try "v2\n".write(toFile: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary, stack.directory + "/app/c/x.py") == 0)
        #expect(
            await eventually {
                let now = await api(); return now?.pid != first && now?.state == "ready"
            })
        #expect(warnings().count == 1)
        #expect(try await stack.muster("down").status == 0)
    }
}

/// A build step that hangs holds up no command, and `down` kills it.
@Suite(.serialized) struct WatchBuildStepTests {
    @Test func aHangingBuildBlocksNothingAndDiesWithDown() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "echo up; exec sleep 300"
                ready: { log: up }
                watch:
                  - path: src
                    exec: "echo $$$$ > build.pid; exec sleep 300"
              other:
                command: "echo up; exec sleep 300"
                ready: { log: up }
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(atPath: stack.directory + "/src", withIntermediateDirectories: true)
        try "a\n".write(toFile: stack.directory + "/src/main.c", atomically: false, encoding: .utf8)
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        try "b\n".write(toFile: stack.directory + "/src/main.c", atomically: false, encoding: .utf8)
        let pidFile = stack.directory + "/build.pid"
        #expect(await eventually { !readPids(pidFile).isEmpty })
        let build = try #require(readPids(pidFile).first)
        #expect(ProcessTable.isAlive(build))
        // Other commands go on while it runs.
        #expect(try await stack.muster("restart", "other").status == 0)
        #expect(try await stack.muster("down").status == 0)
        #expect(await eventually { !ProcessTable.isAlive(build) })
    }
}
