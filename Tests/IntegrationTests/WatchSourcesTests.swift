import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

// What is watched: the default stack's own rules, and a service's source files with
// `up --watch`.

/// The default stack's own rules: editing its API restarts `api`; editing its
/// migration re-runs `migrate`, then restarts `api`.
@Suite(.serialized) struct DefaultStackWatchTests {
    @Test func editingTheDefaultStacksAppFiles() async throws {
        var text = try String(contentsOfFile: TestStack.repoRoot + "/stacks/default.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "name: default\n", with: "")
            .replacingOccurrences(of: "${MUSTER_PYTHON:-../.venv/bin/python}", with: TestStack.python)
        let stack = try TestStack(text)
        defer { stack.cleanup() }
        try FileManager.default.copyItem(atPath: TestStack.repoRoot + "/stacks/app", toPath: stack.directory + "/app")
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        func api() async -> ServiceStatus? { try? await stack.status().services.first { $0.name == "api" } }
        func append(_ file: String) throws {
            let handle = try #require(FileHandle(forWritingAtPath: stack.directory + "/" + file))
            handle.seekToEndOfFile()
            handle.write(Data("# edited by a test\n".utf8))
            handle.closeFile()
        }
        let first = try #require(await api()?.pid)
        try append("app/api.py")
        #expect(
            await eventually(within: .seconds(30)) {
                let now = await api(); return now?.pid != first && now?.state == "ready"
            })
        let second = try #require(await api()?.pid)
        try append("app/migrate.py")
        #expect(
            await eventually(within: .seconds(30)) {
                let migrateRan = stack.events().contains { $0.service == "migrate" && $0.type.rawValue == "restarted" }
                let now = await api()
                return migrateRan && now?.pid != second && now?.state == "ready"
            })
        let reasons = stack.events().filter { $0.service == "api" && $0.type.rawValue == "restarted" }
            .compactMap { $0.reason }
        #expect(
            reasons == ["files changed: app/api.py", "migrate ran again (files changed: app/migrate.py)"], "\(reasons)")
        let pids = try await stack.status().services.compactMap(\.pid)
        #expect(try await stack.muster("down").status == 0)
        for pid in pids { #expect(!ProcessTable.isAlive(pid)) }
    }
}

/// `up --watch`: a service without rules restarts when a source file under its
/// working_dir changes, and not for other files.
@Suite(.serialized) struct WatchSourceFilesTests {
    @Test func upWatchRestartsOnSourceFiles() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "echo up; exec sleep 300"
                ready: { log: up }
                working_dir: app
            """)
        defer { stack.cleanup() }
        try FileManager.default.createDirectory(atPath: stack.directory + "/app/pkg", withIntermediateDirectories: true)
        try "x = 1\n".write(toFile: stack.directory + "/app/pkg/main.py", atomically: false, encoding: .utf8)
        try "notes\n".write(toFile: stack.directory + "/app/README.txt", atomically: false, encoding: .utf8)
        #expect(try await stack.muster("up", "-d", "--watch", "--no-watch").status == 2)
        let up = try await stack.muster("up", "-d", "--watch")
        try #require(up.status == 0, "\(up.output)")
        func api() async -> ServiceStatus? { try? await stack.status().services.first { $0.name == "api" } }
        let first = try #require(await api()?.pid)
        // Not a source file: no restart. Checked at the source edit's restart (changes are
        // handled in order: a restart for README.txt would come before it, or name it).
        try "notes, edited\n".write(toFile: stack.directory + "/app/README.txt", atomically: false, encoding: .utf8)
        try "x = 2\n".write(toFile: stack.directory + "/app/pkg/main.py", atomically: false, encoding: .utf8)
        #expect(
            await eventually {
                let now = await api(); return now?.pid != first && now?.state == "ready"
            })
        let reasons = stack.events().filter { $0.type == .restarted }.compactMap { $0.reason }
        #expect(
            reasons.count == 1 && reasons.allSatisfy { $0.contains("main.py") && !$0.contains("README") }, "\(reasons)")
        #expect(try await stack.muster("down").status == 0)
    }
}
