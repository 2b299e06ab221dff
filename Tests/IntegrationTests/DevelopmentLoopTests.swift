import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The development loop on real processes through the `muster` binary: an edit
/// restarts the service that runs it, a migration edit re-runs the task and restarts
/// what waits on it, a failing build step keeps the old process, metadata changes
/// do nothing, and `down` leaves neither process nor watch.
@Suite(.serialized) struct DevelopmentLoopTests {
    static let yaml = """
        services:
          migrate:
            command: "cat migrations/001.sql >> applied.txt"
            task: true
            watch:
              - path: migrations
                action: rerun
          api:
            command: "cat app/version.txt; echo up; exec sleep 300"
            ready: { log: up }
            depends_on: { migrate: completed }
            watch:
              - path: app
                ignore: ["*.tmp"]
          builder:
            command: "echo up; exec sleep 300"
            ready: { log: up }
            watch:
              - path: src
                exec: "sh build.sh"
        """

    static func make(name: String = #function) throws -> TestStack {
        let stack = try TestStack(yaml, name: name)
        for (file, text) in [
            ("migrations/001.sql", "create table t();\n"), ("app/version.txt", "v1\n"),
            ("src/main.c", "int main(){}\n"), ("build.sh", "echo built\n"),
        ] {
            let path = stack.directory + "/" + file
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        return stack
    }

    func service(_ stack: TestStack, _ name: String) async -> ServiceStatus? {
        try? await stack.status().services.first { $0.name == name }
    }

    func write(_ stack: TestStack, _ file: String, _ text: String) throws {
        try text.write(toFile: stack.directory + "/" + file, atomically: false, encoding: .utf8)
    }

    func restartReasons(_ stack: TestStack, of name: String) -> [String] {
        stack.events().filter { $0.service == name && $0.type.rawValue == "restarted" }
            .compactMap { $0.reason }
    }

    /// A task's rule without an action runs the task again (a task cannot restart):
    /// it once did nothing, the restart refused and the refusal swallowed.
    @Test func aTasksPlainRuleRunsItAgain() async throws {
        let stack = try TestStack(
            """
            services:
              migrate:
                command: "cat migrations/001.sql >> applied.txt"
                task: true
                watch: [migrations]
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(
            atPath: stack.directory + "/migrations", withIntermediateDirectories: true)
        try write(stack, "migrations/001.sql", "one\n")
        try #require(try await stack.muster("up", "-d").status == 0)
        try write(stack, "migrations/001.sql", "two\n")
        let applied = { (try? String(contentsOfFile: stack.directory + "/applied.txt", encoding: .utf8)) ?? "" }
        #expect(await eventually(within: .seconds(30)) { applied() == "one\ntwo\n" }, "\(applied())")
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func editsRestartRerunAndBuild() async throws {
        let stack = try Self.make()
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        let supervisor = try await stack.status().supervisorPid
        let api = try #require(await service(stack, "api")?.pid)
        // ps --json (and the interactive view) mark what a change acts on.
        let apiWatched = await service(stack, "api")?.watched
        let migrateWatched = await service(stack, "migrate")?.watched
        #expect(apiWatched == true && migrateWatched == true)

        // An edit: api restarts with a new pid and is ready; the reason names the file.
        try write(stack, "app/version.txt", "v2\n")
        #expect(
            await eventually {
                let now = await service(stack, "api"); return now?.pid != api && now?.state == "ready"
            })
        #expect(
            restartReasons(stack, of: "api").contains("files changed: app/version.txt"),
            "\(restartReasons(stack, of: "api"))")
        let api2 = try #require(await service(stack, "api")?.pid)

        // Metadata only, a read, an ignored file: nothing restarts. Checked at the next
        // edit's restart: changes are handled in order, so a restart for one of these
        // would come before it, or name the file in it.
        let path = stack.directory + "/app/version.txt"
        #expect(chmod(path, 0o600) == 0)
        #expect(utimes(path, nil) == 0)
        _ = try String(contentsOfFile: path, encoding: .utf8)
        try write(stack, "app/notes.tmp", "scratch")

        // A migration edit: migrate runs again, then api restarts after it.
        try write(stack, "migrations/001.sql", "create table t2();\n")
        #expect(
            await eventually {
                let applied = (try? String(contentsOfFile: stack.directory + "/applied.txt", encoding: .utf8)) ?? ""
                let now = await service(stack, "api")
                return applied.contains("t2") && now?.pid != api2 && now?.state == "ready"
            })
        #expect(
            restartReasons(stack, of: "api") == [
                "files changed: app/version.txt", "migrate ran again (files changed: migrations/001.sql)",
            ],
            "\(restartReasons(stack, of: "api"))")

        // A failing build keeps the old process and says why, with the build's output.
        let builder = try #require(await service(stack, "builder")?.pid)
        try write(stack, "build.sh", "echo 'main.c:1: error: expected ;'; exit 1\n")
        try write(stack, "src/main.c", "int main(){ broken }\n")
        #expect(
            await eventually {
                stack.events().contains { $0.service == "builder" && $0.reason?.contains("build step failed") == true }
            })
        let warning = stack.events().last { $0.service == "builder" && $0.type.rawValue == "warning" }
        #expect(
            warning?.reason?.contains("sh build.sh exited with code 1 — last lines: main.c:1: error: expected ;")
                == true,
            "\(String(describing: warning))")
        #expect(await service(stack, "builder")?.pid == builder)
        #expect(await service(stack, "builder")?.state == "ready")
        // Fixed: the build passes and the service restarts.
        try write(stack, "build.sh", "echo built\n")
        try write(stack, "src/main.c", "int main(){ return 0; }\n")
        #expect(
            await eventually {
                let now = await service(stack, "builder"); return now?.pid != builder && now?.state == "ready"
            })

        // down: every process and the supervisor (with its watches) gone.
        let pids = try await stack.status().services.compactMap(\.pid)
        #expect(try await stack.muster("down").status == 0)
        #expect(await eventually { !ProcessTable.isAlive(supervisor) })
        for pid in pids { #expect(!ProcessTable.isAlive(pid)) }
    }

    @Test func noWatchLeavesEditsAlone() async throws {
        let stack = try Self.make()
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d", "--no-watch")
        try #require(up.status == 0, "\(up.output)")
        let api = try #require(await service(stack, "api")?.pid)
        #expect(await service(stack, "api")?.watched == nil)
        try write(stack, "app/version.txt", "v2\n")
        // The subject is that nothing happens (no watcher runs to say it has looked):
        // ten times the debounce.
        try await Task.sleep(for: .milliseconds(600))
        #expect(await service(stack, "api")?.pid == api)
        #expect(try await stack.muster("down").status == 0)
    }

    /// A crash loop while the developer is mid-edit: the service gives up after
    /// max_restarts, and the next edit starts it again with a fresh count.
    @Test func anEditRevivesAServiceThatGaveUp() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "sh app/run.sh"
                ready: { log: up }
                restart: on-failure
                max_restarts: 1
                optional: true
                watch: [app]
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(atPath: stack.directory + "/app", withIntermediateDirectories: true)
        try "echo up; exec sleep 300\n".write(
            toFile: stack.directory + "/app/run.sh", atomically: false, encoding: .utf8)
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        // Broken mid-edit: the edit restarts it, it crashes, is restarted once, and gives up.
        try "echo oops; exit 1\n".write(toFile: stack.directory + "/app/run.sh", atomically: false, encoding: .utf8)
        #expect(await eventually(within: .seconds(30)) { await service(stack, "api")?.state == "failed" })
        // Fixed: the edit starts it again.
        try "echo up; exec sleep 301\n".write(
            toFile: stack.directory + "/app/run.sh", atomically: false, encoding: .utf8)
        #expect(await eventually { await service(stack, "api")?.state == "ready" })
        #expect(try await stack.muster("down").status == 0)
    }
}
