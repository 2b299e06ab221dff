import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ServiceLifecycleTests {
    func machine(probe: Bool = true, restart: RestartPolicy = .no, max: Int? = nil) -> ServiceLifecycle {
        ServiceLifecycle(
            policy: .init(
                hasReadyProbe: probe, hasAliveProbe: false, restart: restart, maxRestarts: max,
                stopSignal: SIGTERM, stopTimeout: .seconds(10)))
    }

    func kinds(_ actions: [ServiceLifecycle.Action]) -> [String] {
        actions.compactMap { if case let .record(record) = $0 { return record.type.rawValue } else { return nil } }
    }

    @Test func startToReady() {
        var m = machine()
        #expect(m.handle(.start) == [.spawn(generation: 1), .armStartTimer])
        #expect(m.phase == .starting)
        let spawned = m.handle(.spawned(pid: 10, generation: 1))
        #expect(spawned.contains(.watchReadiness(generation: 1)))
        #expect(kinds(spawned) == ["starting"])
        let ready = m.handle(.readyPassed(generation: 1))
        #expect(m.phase == .ready)
        #expect(ready.contains(.cancelStartTimer))
        #expect(kinds(ready) == ["ready"])
    }

    @Test func readyAtSpawnWithoutProbe() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        #expect(kinds(m.handle(.spawned(pid: 3, generation: 1))) == ["starting", "ready"])
        #expect(m.phase == .ready)
    }

    @Test func exitBeforeReadyFailsAtOnce() {
        var m = machine()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let actions = m.handle(.exited(.exited(1), uptime: .milliseconds(20), generation: 1))
        #expect(m.phase == .failed)
        #expect(m.failure == "exited with code 1 before it was ready")
        #expect(kinds(actions) == ["failed"])
    }

    @Test func taskCompletes() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        #expect(kinds(m.handle(.exited(.exited(0), uptime: .seconds(1), generation: 1))) == ["completed"])
        #expect(m.phase == .completed)
    }

    @Test func onFailureBacksOffExponentiallyThenGivesUp() {
        var m = machine(restart: .onFailure, max: 2)
        _ = m.handle(.start)
        var delays: [Duration] = []
        for generation in 1...3 {
            _ = m.handle(.spawned(pid: Int32(100 + generation), generation: generation))
            let actions = m.handle(.exited(.exited(1), uptime: .milliseconds(5), generation: generation))
            for case let .scheduleRestart(delay) in actions { delays.append(delay) }
            if m.phase == .backoff { _ = m.handle(.backoffElapsed) }
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200)])
        #expect(m.phase == .failed)
        #expect(m.restarts == 2)
        #expect(m.failure?.contains("restarted 2 times in a row") == true)
    }

    @Test func restartRecordCarriesPreviousPid() {
        var m = machine(probe: false, restart: .always)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.exited(.signaled(SIGKILL), uptime: .seconds(3), generation: 1))
        #expect(m.phase == .backoff)
        #expect(m.handle(.backoffElapsed) == [.spawn(generation: 2)])
        let actions = m.handle(.spawned(pid: 11, generation: 2))
        guard case let .record(record)? = actions.first else { Issue.record("no record"); return }
        #expect(record.type == .restarted)
        #expect(record.pid == 11)
        #expect(record.previousPid == 10)
        #expect(record.restarts == 1)
    }

    @Test func healthyUptimeResetsFailuresInARow() {
        var m = machine(probe: false, restart: .onFailure, max: 1)
        _ = m.handle(.start)
        for generation in 1...4 {
            _ = m.handle(.spawned(pid: Int32(generation), generation: generation))
            _ = m.handle(.exited(.exited(2), uptime: .seconds(11), generation: generation))
            #expect(m.phase == .backoff)
            _ = m.handle(.backoffElapsed)
        }
        #expect(m.restarts == 4)
    }

    @Test func stopEscalates() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let stop = m.handle(.stop)
        #expect(stop.contains(.signalGroup(SIGTERM)))
        #expect(stop.contains(.armStopTimer(.seconds(10), generation: 1)))
        #expect(m.phase == .stopping)
        let kill = m.handle(.stopTimedOut(generation: 1))
        #expect(kill.contains(.killGroup))
        #expect(kill.contains(.warn("did not stop within 10s of SIGTERM; sent SIGKILL to every process of it")))
        #expect(m.stopStage == .killed)
        #expect(m.handle(.stopTimedOut(generation: 1)).isEmpty)
        _ = m.handle(.exited(.signaled(SIGKILL), uptime: .seconds(11), generation: 1))
        #expect(m.phase == .stopped)
    }

    /// Postgres's ladder: the stop signal (fast shutdown), after stop_timeout the
    /// server's own escalation (immediate shutdown) with its grace, SIGKILL only last.
    @Test func stopClimbsTheServersOwnLadderBeforeSIGKILL() {
        let ladder = ServiceLifecycle.StopEscalation(
            signal: SIGQUIT, grace: .seconds(10), stopName: "fast shutdown",
            name: "immediate shutdown")
        var m = ServiceLifecycle(
            policy: .init(
                hasReadyProbe: false, hasAliveProbe: false, restart: .no, maxRestarts: nil,
                stopSignal: SIGINT, stopTimeout: .seconds(2), escalation: ladder))
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let stop = m.handle(.stop)
        #expect(stop.contains(.signalGroup(SIGINT)))
        #expect(stop.contains(.armStopTimer(.seconds(2), generation: 1)))
        let immediate = m.handle(.stopTimedOut(generation: 1))
        #expect(
            immediate == [
                .warn("did not stop within 2s of SIGINT (fast shutdown); sent SIGQUIT (immediate shutdown)"),
                .signalGroup(SIGQUIT),
                .armStopTimer(.seconds(10), generation: 1),
            ])
        #expect(!immediate.contains(.killGroup))
        #expect(m.stopStage == .escalated)
        let kill = m.handle(.stopTimedOut(generation: 1))
        #expect(
            kill == [
                .warn("immediate shutdown did not end it within 10s; sent SIGKILL to every process of it"), .killGroup,
            ])
        // A stale timer of an older incarnation changes nothing.
        #expect(m.handle(.stopTimedOut(generation: 0)).isEmpty)
        _ = m.handle(.exited(.signaled(SIGKILL), uptime: .seconds(13), generation: 1))
        #expect(m.phase == .stopped)
        // The next stop starts at the bottom of the ladder again.
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 11, generation: 2))
        _ = m.handle(.stop)
        #expect(m.stopStage == .asked)
        #expect(m.handle(.stopTimedOut(generation: 2)).contains(.signalGroup(SIGQUIT)))
    }

    @Test func stopDuringSpawnStopsTheNewProcess() {
        var m = machine()
        _ = m.handle(.start)
        _ = m.handle(.stop)
        #expect(m.handle(.spawned(pid: 44, generation: 1)) == [.signalGroup(SIGTERM)])
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .zero, generation: 1))
        #expect(m.phase == .stopped)
    }

    @Test func startTimeoutStopsThenFails() {
        var m = machine()
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let actions = m.handle(.startTimedOut("not ready after 1s"))
        #expect(actions.contains(.signalGroup(SIGTERM)))
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(1), generation: 1))
        #expect(m.phase == .failed)
        #expect(m.failure == "not ready after 1s")
    }

    @Test func staleEventsAreIgnored() {
        var m = machine(restart: .always)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.exited(.exited(1), uptime: .zero, generation: 1))
        _ = m.handle(.backoffElapsed)
        _ = m.handle(.spawned(pid: 11, generation: 2))
        #expect(m.handle(.readyPassed(generation: 1)).isEmpty)
        #expect(m.handle(.exited(.exited(1), uptime: .zero, generation: 1)).isEmpty)
        #expect(m.phase == .starting)
    }

    @Test func userRestartOfReadyService() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.restart)
        #expect(m.phase == .stopping)
        let actions = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(2), generation: 1))
        #expect(actions.first == .spawn(generation: 2))
        #expect(m.restarts == 1)
    }

    @Test func backoffSequence() {
        #expect(
            (1...8).map(ServiceLifecycle.backoff(afterFailures:)) == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .seconds(10),
            ])
    }

    @Test func availabilityFollowsTheAliveProbe() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        #expect(m.available)
        // Misses below the threshold change nothing.
        #expect(m.handle(.aliveChecked(passed: false, failures: 2, threshold: 3, reason: "refused")) == [])
        #expect(m.available)
        // The third miss makes it unavailable, once.
        #expect(
            m.handle(.aliveChecked(passed: false, failures: 3, threshold: 3, reason: "refused"))
                == [.announceAvailability(false, reason: "refused")])
        #expect(!m.available && m.phase == .ready)
        #expect(m.handle(.aliveChecked(passed: false, failures: 4, threshold: 3, reason: "refused")) == [])
        // The first pass makes it available again, and says for how long it was not
        // (since the third miss, at moment 0).
        #expect(
            m.handle(.aliveChecked(passed: true, failures: 0, threshold: 3, reason: nil), at: .milliseconds(7500))
                == [.announceAvailability(true, reason: nil, after: .milliseconds(7500))])
        #expect(m.available)
        // A new incarnation starts available; a look outside `ready` is ignored.
        _ = m.handle(.aliveChecked(passed: false, failures: 3, threshold: 3, reason: "refused"))
        _ = m.handle(.restart)
        #expect(m.handle(.aliveChecked(passed: true, failures: 0, threshold: 3, reason: nil)) == [])
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(2), generation: 1))
        _ = m.handle(.spawned(pid: 11, generation: 2))
        #expect(m.available)
    }

    @Test func queuedToStartAgainIsPendingAndItsStartIsARestart() {
        var m = machine(probe: false)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        _ = m.handle(.stop)
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(2), generation: 1))
        #expect(m.phase == .stopped)
        #expect(m.handle(.queue) == [])
        #expect(m.phase == .pending, "queued: not stopped for whoever waits on it")
        #expect(m.handle(.start) == [.spawn(generation: 2)])
        let spawned = m.handle(.spawned(pid: 11, generation: 2))
        #expect(kinds(spawned) == ["restarted", "ready"], "a start again, as from stopped")
        #expect(m.restarts == 1)
        // Only a service that is down can be queued.
        #expect(m.handle(.queue) == [] && m.phase == .ready)
    }
}
