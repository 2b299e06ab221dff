import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `muster run`: the test window, its report and its exit code.
@Suite(.serialized) struct RunCommandTests {
    static let stackText = """
        services:
          cache:
            engine: redis
            port: auto
          consumer:
            command: "echo consuming; while true; do sleep 0.1; done"
            depends_on: { cache: ready }
            ready: { log: consuming }
            restart: on-failure
        """

    /// The run report read with its own type (its events as `ServiceEvent`s).
    func report(_ path: String) throws -> RunReport {
        try ControlJSON.decode(RunReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func restartDuringTheCommandFailsTheWindow() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let status = try await stack.status()
        let consumer = try #require(status.services.first { $0.name == "consumer" }?.pid)

        // Killed while the command runs: exit 3, and the report says who and why.
        let killed = try await stack.muster(
            "run", "--fail-on-restart", "--report", "killed.json", "--",
            "sh", "-c", "kill -9 \(consumer); sleep 1")
        #expect(killed.status == 3, "\(killed.output)")
        #expect(killed.output.contains("consumer"))
        let bad = try report(stack.directory + "/killed.json")
        #expect(bad.clean == false)
        #expect(bad.exitCode == 0)
        let entry = try #require(bad.services["consumer"])
        #expect(entry.restarts == 1)
        let reasons = entry.events.compactMap(\.reason)
        #expect(reasons.contains { $0.contains("killed by SIGKILL") }, "\(reasons)")
        #expect(bad.services["cache"]?.restarts == 0)

        // The same without the kill: exit 0, clean; the environment reaches the command.
        let quiet = try await stack.muster(
            "run", "--fail-on-restart", "--report", "quiet.json", "--",
            "sh", "-c", "echo \"$CACHE_URL $MUSTER_PROJECT $MUSTER_EVENTS\" > env.txt")
        #expect(quiet.status == 0, "\(quiet.output)")
        #expect(try report(stack.directory + "/quiet.json").clean == true)
        let env = try String(contentsOfFile: stack.directory + "/env.txt", encoding: .utf8)
        #expect(env.hasPrefix("redis://127.0.0.1:"))
        #expect(env.contains(stack.project) && env.contains("events.jsonl"))

        // The command's own failure wins.
        #expect(try await stack.muster("run", "--", "sh", "-c", "exit 7").status == 7)
        // A stack it did not start stays up.
        #expect(ControlClient.connect(stack.paths) != nil)
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func startsAndStopsOnlyWhatItStarted() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        let run = try await stack.muster("run", "--", "sh", "-c", "muster_ok=1")
        #expect(run.status == 0, "\(run.output)")
        #expect(ControlClient.connect(stack.paths) == nil, "run must stop the stack it started")
        let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
        #expect(groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })
        let missing = try await stack.muster("run", "--", "no-such-command-anywhere")
        #expect(missing.status == 127)
    }
}
