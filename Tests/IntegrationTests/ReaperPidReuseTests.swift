import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The reaper gives a child only its own exit, even when it got the pid of a process
/// the reaper collected before (an orphan of a service, or a program spawned without
/// the spawner). The pid is reused on purpose: as root, `ns_last_pid` makes the next
/// fork take it. The old reaper kept such exits and gave one to the new child the
/// moment it was tracked: a `down` still running looked finished with exit 0.
///
/// Rewinding the pid counter makes every process on the machine take recently freed
/// pids, which no program expects within a second of the exit; run beside the rest of
/// the suite it broke other tests. So it runs alone: `scripts/test` runs it after the
/// suite with `MUSTER_PID_REUSE_TEST=1`, and the suite itself skips it.
@Suite struct ReaperPidReuseTests {
    static let lastPid = "/proc/sys/kernel/ns_last_pid"
    static let alone = ProcessInfo.processInfo.environment["MUSTER_PID_REUSE_TEST"] == "1"

    /// Starts `/bin/sh -c 'exit 3'` without the spawner (as `QueryProgram` does) and
    /// returns its pid once the reaper has collected it.
    static func untrackedExit() async throws -> pid_t {
        var pid: pid_t = 0
        let words = ["/bin/sh", "-c", "exit 3"]
        let arguments = words.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0)
        // Gone from /proc once reaped (a zombie still has its entry).
        #expect(
            await eventually(within: .patience) { ProcessTable.entry(pid) == nil }, "the reaper never collected \(pid)")
        return pid
    }

    @Test(
        .enabled(if: alone, "runs alone, after the suite (scripts/test)"),
        .enabled(if: getuid() == 0 && access(lastPid, W_OK) == 0, "needs root to choose the next pid"))
    func aChildWithTheReusedPidOfAnExitCollectedEarlierGetsItsOwnExit() async throws {
        let spawner = ProcessSpawner.shared
        // A child that lives through the test keeps the reaper in its wait for any child,
        // where it collects the unknown exits too.
        let keeper = try await spawner.spawn(
            SpawnRequest(executable: "/bin/sleep", arguments: ["sleep", "600"], environment: []))
        defer {
            kill(keeper, SIGKILL)
            Task {
                _ = await ProcessReaper.shared.exitStatus(of: keeper); ProcessReaper.shared.forget(keeper)
            }
        }
        // Other processes on the machine may fork first: a few tries to land on the pid.
        for _ in 0..<20 {
            let reused = try await Self.untrackedExit()
            try "\(reused - 1)".write(toFile: Self.lastPid, atomically: false, encoding: .utf8)
            let pid = try await spawner.spawn(
                SpawnRequest(executable: "/bin/sleep", arguments: ["sleep", "600"], environment: []))
            guard pid == reused else {
                kill(pid, SIGKILL)
                _ = await ProcessReaper.shared.exitStatus(of: pid)
                ProcessReaper.shared.forget(pid)
                continue
            }
            // It runs until the test ends it, so any exit known now is the old one.
            #expect(ProcessReaper.shared.statusIfExited(pid) == nil, "the new child was given the old exit")
            kill(pid, SIGKILL)
            let status = await ProcessReaper.shared.exitStatus(of: pid)
            ProcessReaper.shared.forget(pid)
            #expect(status == .signaled(SIGKILL), "\(status)")
            return
        }
        Issue.record("twenty tries and another process took the pid each time")
    }
}
