import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The lifecycle of a task (`task: true`): up only once it completed, failed by a
/// non-zero exit or a signal, retried by on-failure, run again on start.
extension ServiceLifecycleTests {
    func task(probe: Bool = false, restart: RestartPolicy = .no, max: Int? = nil) -> ServiceLifecycle {
        ServiceLifecycle(
            policy: .init(
                hasReadyProbe: probe, hasAliveProbe: false, restart: restart, maxRestarts: max,
                stopSignal: SIGTERM, stopTimeout: .seconds(10), isTask: true))
    }

    @Test func taskIsUpOnlyOnceItCompleted() {
        var m = task()
        #expect(m.handle(.start) == [.spawn(generation: 1)], "no start timer: a task runs as long as it needs")
        let spawned = m.handle(.spawned(pid: 10, generation: 1))
        #expect(kinds(spawned) == ["starting"], "not ready at spawn")
        #expect(!spawned.contains(.watchAliveness(generation: 1)), "a running task is not watched for restarts")
        #expect(m.phase == .starting && !m.wasEverReady)
        #expect(kinds(m.handle(.exited(.exited(0), uptime: .seconds(2), generation: 1))) == ["completed"])
        #expect(m.phase == .completed && m.failure == nil)
    }

    @Test func taskThatExitsNonZeroFailsWithItsCode() {
        var m = task()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let actions = m.handle(.exited(.exited(3), uptime: .milliseconds(2500), generation: 1))
        #expect(kinds(actions) == ["failed"])
        #expect(m.phase == .failed)
        #expect(m.failure == "exited with code 3 after 2.5s; a task must exit with code 0")
    }

    @Test func taskKilledBySignalFails() {
        var m = task()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.exited(.signaled(SIGKILL), uptime: .seconds(1), generation: 1))
        #expect(m.phase == .failed)
        #expect(m.failure?.hasSuffix("a task must exit with code 0") == true)
    }

    @Test func taskWithOnFailureRetriesUntilItSucceeds() {
        var m = task(restart: .onFailure, max: 3)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.exited(.exited(1), uptime: .milliseconds(30), generation: 1))
        #expect(m.phase == .backoff)
        #expect(m.handle(.backoffElapsed) == [.spawn(generation: 2)])
        #expect(kinds(m.handle(.spawned(pid: 11, generation: 2))) == ["restarted"], "still running, not ready")
        #expect(m.phase == .starting)
        _ = m.handle(.exited(.exited(0), uptime: .milliseconds(30), generation: 2))
        #expect(m.phase == .completed)
    }

    @Test func completedTaskRunsAgainOnStart() {
        var m = task()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.exited(.exited(0), uptime: .seconds(1), generation: 1))
        #expect(m.handle(.start) == [.spawn(generation: 2)])
        let spawned = m.handle(.spawned(pid: 12, generation: 2))
        guard case let .record(record)? = spawned.first else { Issue.record("no record"); return }
        #expect(record.type == .restarted && record.reason == "run again on request")
        #expect(m.phase == .starting)
        _ = m.handle(.exited(.exited(0), uptime: .seconds(1), generation: 2))
        #expect(m.phase == .completed && m.restarts == 1)
    }

    @Test func stoppedWhileRunningTaskIsStopped() {
        var m = task()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        #expect(m.handle(.stop).contains(.signalGroup(SIGTERM)))
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(1), generation: 1))
        #expect(m.phase == .stopped)
    }

    /// A service another waits for with `completed` may keep a ready probe: ready
    /// when it passes, and still a task, so an exit other than 0 fails it.
    @Test func taskWithReadyProbeIsReadyThenCompletesOrFails() {
        var m = task(probe: true)
        #expect(m.handle(.start) == [.spawn(generation: 1), .armStartTimer])
        #expect(m.handle(.spawned(pid: 10, generation: 1)).contains(.watchReadiness(generation: 1)))
        _ = m.handle(.readyPassed(generation: 1))
        #expect(m.phase == .ready)
        _ = m.handle(.exited(.exited(2), uptime: .seconds(4), generation: 1))
        #expect(m.phase == .failed, "not exited: a task must exit 0")
        var n = task(probe: true)
        _ = n.handle(.start)
        _ = n.handle(.spawned(pid: 10, generation: 1))
        _ = n.handle(.readyPassed(generation: 1))
        _ = n.handle(.exited(.exited(0), uptime: .seconds(4), generation: 1))
        #expect(n.phase == .completed)
    }
}
