import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// Tasks (`task: true`): `up -d` returns once they have completed, a failing one
/// fails `up` with its log tail, `ps` shows them as tasks; and the hint for a
/// one-shot that is not marked as one. Through the real muster binary.
@Suite(.serialized) struct TaskTests {
    /// A two-second migration that nothing waits for, beside a long-running service.
    static let migration = """
        services:
          web:
            command: ["sh", "-c", "echo $$$$ > web.pid; exec sleep 1000"]
          migrate:
            command: ["sh", "-c", "echo migrating; sleep 2; echo $$$$ > migrated.txt; echo migrated"]
            task: true
        """

    @Test func upReturnsOnlyOnceTheTaskCompleted() async throws {
        let stack = try TestStack(Self.migration)
        defer { stack.cleanup() }
        let marker = stack.directory + "/migrated.txt"

        let up = try await stack.muster("up", "-d")
        // Read before anything else: the task wrote its file before up -d returned.
        let migratedWhenUpReturned = FileManager.default.fileExists(atPath: marker)
        #expect(up.status == 0, "up -d failed: \(up.output)")
        #expect(migratedWhenUpReturned, "up -d returned before the task completed: \(up.output)")
        var report = try await stack.status()
        let migrate = try #require(report.services.first { $0.name == "migrate" })
        #expect(migrate.task && migrate.state == "completed" && migrate.ready, "\(migrate)")
        let completedAt = try #require(migrate.completedAt.flatMap(RFC3339.time), "ps --json gives its exit time")
        let startedAt = try #require(RFC3339.time(report.started))
        #expect(completedAt >= startedAt)
        #expect(report.services.first { $0.name == "web" }?.task == false)
        let table = try await stack.muster("ps")
        #expect(table.output.contains("(task)") && table.output.contains("completed "), "\(table.output)")

        // A task is not restarted; start runs it again, and returns once it completed again.
        let restart = try await stack.muster("restart", "migrate")
        #expect(restart.status == 2 && restart.output.contains("task"), "\(restart.output)")
        let firstRun = readPids(marker)
        try FileManager.default.removeItem(atPath: marker)
        let start = try await stack.muster("start", "migrate")
        let migratedWhenStartReturned = FileManager.default.fileExists(atPath: marker)
        #expect(start.status == 0, "start failed: \(start.output)")
        #expect(migratedWhenStartReturned, "start returned before the task completed again")
        #expect(readPids(marker) != firstRun, "a new run wrote it")
        report = try await stack.status()
        #expect(report.services.first { $0.name == "migrate" }?.restarts == 1)

        let down = try await stack.muster("down")
        #expect(down.status == 0, "down failed: \(down.output)")
        Self.expectGone(report.groups + readPids(stack.directory + "/web.pid"))
    }

    @Test func failingTaskFailsUpWithItsNameAndLastLines() async throws {
        let stack = try TestStack(
            """
            services:
              web:
                command: ["sh", "-c", "echo $$$$ > web.pid; exec sleep 1000"]
              migrate:
                command: ["sh", "-c", "echo step one; echo step two; echo 'relation users already exists' >&2; exit 3"]
                task: true
            """)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        #expect(up.status == 1, "\(up.output)")
        let first = up.output.split(separator: "\n").first { $0.hasPrefix("error: ") }.map(String.init) ?? ""
        #expect(
            first.contains("service migrate failed: exited with code 3"),
            "the first line names the task and its code: \(up.output)")
        #expect(first.contains("a task must exit with code 0"), "\(up.output)")
        #expect(
            up.output.contains("step two") && up.output.contains("relation users already exists"),
            "its last lines: \(up.output)")
        // Nothing is left running: a failed up -d tears down what it started.
        let ps = try await stack.muster("ps")
        #expect(ps.output.contains("is not running"), "\(ps.output)")
        Self.expectGone(readPids(stack.directory + "/web.pid"))

        // The foreground up fails the same way.
        let foreground = try await stack.muster("up", "--no-tui")
        #expect(foreground.status == 1, "\(foreground.output)")
        #expect(foreground.output.contains("service migrate failed: exited with code 3"), "\(foreground.output)")
        #expect(foreground.output.contains("relation users already exists"), "\(foreground.output)")
        Self.expectGone(readPids(stack.directory + "/web.pid"))
    }

    /// A service without `task: true` or a ready probe that exits 0 soon after it
    /// started gets one warning line: in the event log (`events`, `watch`) and from
    /// `muster run`.
    @Test func unmarkedOneShotGetsTheTaskHint() async throws {
        let stack = try TestStack(Self.unmarkedOneShot)
        defer { stack.cleanup() }
        // run starts the stack, CMD waits until the hint is in the log; run prints it
        // (during the start or after CMD, whichever came first) and then stops the stack.
        let wait = "until grep -q 'set task: true' \"$MUSTER_EVENTS\"; do sleep 0.05; done"
        let run = try await stack.muster("run", "--", "sh", "-c", wait)
        #expect(run.status == 0, "\(run.output)")
        let hints = run.output.split(separator: "\n").filter { $0.contains("set task: true") }
        #expect(hints.count == 1, "exactly one line: \(run.output)")
        // As up's status line (`once warning: exited ...`) or after CMD (`warning: once exited ...`).
        #expect(
            hints.first.map {
                $0.contains("once warning: exited with code 0") || $0.contains("warning: once exited with code 0")
            } == true,
            "\(run.output)")
        #expect(
            hints.first?.contains(
                "after it started and nothing waits for it to complete; if it is a one-shot step, set task: true so up waits until it completes"
            ) == true)
        Self.expectGone(readPids(stack.directory + "/web.pid"))

        let events = try await stack.muster("events")
        let lines = events.output.split(separator: "\n").filter { $0.contains("set task: true") }
        #expect(
            lines.count == 1 && lines.first?.contains("once warning: exited with code 0") == true, "\(events.output)")
        let json = stack.events().filter { $0.type.rawValue == "warning" }
        #expect(json.count == 1 && json.first?.service == "once", "\(json)")

        // A second up -d of a running stack prints what is known.
        #expect(try await stack.muster("up", "-d").status == 0)
        #expect(
            await eventually(within: .seconds(30)) {
                stack.events().filter { $0.type.rawValue == "warning" }.count == 2
            })
        let again = try await stack.muster("up", "-d")
        #expect(again.status == 0 && again.output.contains("warning: once exited with code 0"), "\(again.output)")
        let report = try await stack.status()
        #expect(try await stack.muster("down").status == 0)
        Self.expectGone(report.groups)
    }

    /// The foreground `up` prints the hint among its status lines.
    @Test func foregroundUpShowsTheHint() async throws {
        let stack = try TestStack(Self.unmarkedOneShot)
        defer { stack.cleanup() }
        let output = stack.directory + "/up.out"
        let pid = try await CLIResult.spawn([TestStack.binary, "up", "--no-tui"], in: stack.directory, output: output)
        let shown = await eventually(within: .patience) {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("set task: true")
        }
        let groups = try await stack.status().groups
        try #require(!groups.isEmpty, "no process groups to check afterwards")
        kill(pid, SIGTERM)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(shown, "\(text)")
        #expect(text.contains("muster │ once warning: exited with code 0"), "\(text)")
        #expect(status == .exited(0), "\(text)")
        Self.expectGone(groups)
    }

    /// `web` (its pid in web.pid) beside `once`, a one-shot not marked as a task.
    static let unmarkedOneShot = """
        services:
          web:
            command: ["sh", "-c", "echo $$$$ > web.pid; exec sleep 1000"]
          once:
            command: ["sh", "-c", "echo migrated"]
        """

    static func expectGone(_ pids: [Int32], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for pid in pids {
            #expect(
                ProcessTable.members(ofGroup: pid).isEmpty && !ProcessTable.isAlive(pid), "process \(pid) is left",
                sourceLocation: sourceLocation)
        }
    }
}
