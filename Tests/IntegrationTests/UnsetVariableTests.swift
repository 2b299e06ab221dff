import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// Commands on a running stack act on the supervisor's resolved stack: a new terminal
/// that lacks a variable the stack file needs can still look at, change and stop the
/// stack (issue 24). `up` still refuses the variable it needs.
@Suite(.serialized) struct UnsetVariableTests {
    static let variable = "MUSTER_TEST_DB_USER"

    /// Postgres whose role comes from a variable (empty, it is not a valid role name),
    /// and a worker that prints the value it was started with.
    static let yaml = """
        services:
          db:
            engine: postgres
            user: ${\(variable)}
            databases: [shop]
          worker:
            command: ["sh", "-c", "echo connecting as $$DB_USER; exec sleep 600"]
            env: { DB_USER: "${db.user}" }
            depends_on: [db]
        """

    func muster(_ stack: TestStack, _ arguments: [String], set: Bool = false) async throws -> CLIResult {
        try await CLIResult.run(
            command: [TestStack.binary] + arguments, in: stack.directory,
            environment: [Self.variable: set ? "shopper" : nil])
    }

    /// The one warning line that names the unset variable.
    func warnings(_ result: CLIResult) -> [Substring] {
        result.output.split(separator: "\n").filter { $0.hasPrefix("warning:") }
    }

    @Test func commandsOnARunningStackNeedNoVariables() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }

        // Starting needs it, and says which.
        let refused = try await muster(stack, ["up", "-d"])
        #expect(refused.status == 2, "\(refused.output)")
        #expect(refused.output.contains("${\(Self.variable)} is not set"), "\(refused.output)")
        #expect(try await muster(stack, ["check"]).status == 2)
        #expect(try await muster(stack, ["config"]).status == 2)
        let started = try await muster(stack, ["up", "-d"], set: true)
        try #require(started.status == 0, "\(started.output)")

        // Without it, each command works and warns in one line.
        func works(_ arguments: String..., sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws
            -> CLIResult
        {
            let result = try await muster(stack, arguments)
            #expect(
                result.status == 0, "\(arguments.joined(separator: " ")): \(result.output)",
                sourceLocation: sourceLocation)
            let warned = warnings(result)
            #expect(
                warned.count == 1 && warned[0].contains(Self.variable),
                "\(arguments.joined(separator: " ")) should warn once about \(Self.variable): \(result.output)",
                sourceLocation: sourceLocation)
            return result
        }
        let ps = try await works("ps", "--json")
        let status = try ControlJSON.decode(
            StatusReport.self,
            from: Data(ps.output.split(separator: "\n").filter { !$0.hasPrefix("warning:") }.joined().utf8))
        let pids = status.services.compactMap(\.pid)
        #expect(pids.count == 2 && status.services.allSatisfy(\.ready), "\(ps.output)")
        #expect(try await works("ps").output.contains("worker"))
        // The values are those the stack started with.
        #expect(
            await eventually {
                (try? await muster(stack, ["logs", "worker"]))?.output.contains("connecting as shopper") == true
            })
        #expect(try await works("logs", "worker").output.contains("connecting as shopper"))
        #expect(try await works("env", "--format", "dotenv").output.contains("DB_USER=shopper"))
        #expect(try await works("stop", "worker").output.contains("worker"))
        #expect(try await works("start", "worker").output.contains("worker"))
        #expect(try await works("restart", "worker").output.contains("worker"))
        #expect(try await works("events").output.contains("worker"))
        #expect(try await works("db", "list", "db").output.contains("no snapshots"))
        #expect(try await works("db", "snapshot", "db").output.contains("snapshot \"default\""))
        #expect(
            try await works("run", "--", "sh", "-c", "test \"$DB_USER\" = shopper").output.contains("already running"))

        // attach gets past the stack file to its own check (no terminal here).
        let attach = try await muster(stack, ["attach"])
        #expect(attach.status == 2 && attach.output.contains("needs a terminal"), "\(attach.output)")

        // watch streams until the stack goes away.
        let watchOutput = stack.directory + "/watch.out"
        let watcher = try await CLIResult.spawn(
            [TestStack.binary, "watch"], in: stack.directory, output: watchOutput,
            environment: [Self.variable: nil])
        func watched() -> String { (try? String(contentsOfFile: watchOutput, encoding: .utf8)) ?? "" }
        #expect(await eventually { watched().contains("watching") }, "\(watched())")

        _ = try await works("down")
        let watchEnd = await ProcessReaper.shared.exitStatus(of: watcher)
        ProcessReaper.shared.forget(watcher)
        #expect(watchEnd == .exited(0), "watch ended with \(watchEnd): \(watched())")

        // Nothing is left: no process of the stack, no supervisor.
        for pid in pids { #expect(!ProcessTable.isAlive(pid), "pid \(pid) outlived down") }
        #expect(ControlClient.connect(stack.paths) == nil)
        #expect(try await muster(stack, ["ps"]).output.contains("is not running"))
    }

    /// A project name that needs a variable cannot be guessed: one line says so, and
    /// `-p` is the way out.
    @Test func aProjectNameFromAnUnsetVariableNeedsDashP() async throws {
        let stack = try TestStack("services:\n  worker:\n    command: [sleep, \"1\"]\n")
        defer { stack.cleanup() }
        try "name: ${\(Self.variable)}\nservices:\n  worker:\n    command: [sleep, \"1\"]\n".write(
            toFile: stack.file, atomically: true, encoding: .utf8)
        let ps = try await muster(stack, ["ps"])
        #expect(ps.status == 2 && ps.output.contains("pass -p NAME"), "\(ps.output)")
        let named = try await muster(stack, ["ps", "-p", stack.project])
        #expect(named.status == 0 && named.output.contains("\(stack.project) is not running"), "\(named.output)")
    }
}
