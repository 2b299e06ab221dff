import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The rules the runner used to keep beside the lifecycle, now transitions of it:
/// the stop command's protocol, the alive probe's failures in a row and identity,
/// restarts monitors detect, why a restart happened, when a one-shot counts as
/// ready, and which output goes with an exit. Pure values, moments given by the test.
@Suite struct LifecycleRulesTests {
    func machine(probe: Bool = false, alive: Bool = false, command: String? = nil, task: Bool = false)
        -> ServiceLifecycle
    {
        var policy = ServiceLifecycle.Policy(
            hasReadyProbe: probe, hasAliveProbe: alive, restart: .no, maxRestarts: nil,
            stopSignal: SIGTERM, stopTimeout: .seconds(10), isTask: task, stopCommand: command)
        policy.aliveFailures = 3
        return ServiceLifecycle(policy: policy)
    }

    func records(_ actions: [ServiceLifecycle.Action]) -> [ServiceEvent] {
        actions.compactMap { if case let .record(record) = $0 { return record } else { return nil } }
    }

    func ready(_ m: inout ServiceLifecycle, pid: Int32 = 10) {
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: pid, generation: m.generation))
        #expect(m.phase == .ready)
    }

    // MARK: - The stop command

    @Test func anIgnoredStopCommandGetsItsGraceThenTheSignalAndOnlyThenTheStopTimer() {
        var m = machine(command: "SHUTDOWN")
        ready(&m)
        let stop = m.handle(.stop)
        #expect(stop.contains(.sendStopCommand(generation: 1)))
        #expect(!stop.contains(.signalGroup(SIGTERM)), "the command goes first")
        #expect(
            !stop.contains { if case .armStopTimer = $0 { return true } else { return false } }, "no stop timer yet")
        #expect(m.stopStage == .commanded)
        #expect(
            m.handle(.stopCommandAnswered(.ignored, generation: 1)) == [
                .armStopGrace(.seconds(1), generation: 1)
            ])
        #expect(m.handle(.stopTimedOut(generation: 1)) == [], "no stop timer runs during the grace")
        let after = m.handle(.stopGraceElapsed(generation: 1))
        #expect(
            after == [
                .signalGroup(SIGTERM), .armStopTimer(.seconds(10), generation: 1),
                .warn("SHUTDOWN brought no exit within 1s; sent SIGTERM"),
            ])
        #expect(m.stopStage == .asked)
        // From here the ordinary ladder: the stop timer ends in SIGKILL.
        #expect(m.handle(.stopTimedOut(generation: 1)).contains(.killGroup))
    }

    @Test func aServerThatClosesTheConnectionGetsHalfASecondAndAnExitThenEndsTheStop() {
        var m = machine(command: "SHUTDOWN")
        ready(&m)
        _ = m.handle(.stop)
        #expect(
            m.handle(.stopCommandAnswered(.closed, generation: 1)) == [.armStopGrace(.milliseconds(500), generation: 1)]
        )
        #expect(records(m.handle(.exited(.exited(0), uptime: .seconds(3), generation: 1))).map(\.type) == [.stopped])
        #expect(m.phase == .stopped)
        #expect(m.handle(.stopGraceElapsed(generation: 1)) == [], "a grace that ends after the exit changes nothing")
    }

    @Test func aRefusedStopCommandSignalsAtOnce() {
        var m = machine(command: "SHUTDOWN")
        ready(&m)
        _ = m.handle(.stop)
        #expect(
            m.handle(.stopCommandAnswered(.refused, generation: 1))
                == [
                    .signalGroup(SIGTERM), .armStopTimer(.seconds(10), generation: 1),
                    .warn("SHUTDOWN could not be sent or was refused; sent SIGTERM"),
                ])
    }

    @Test func aStopDuringTheSpawnSignalsTheNewProcessAndArmsTheStopTimer() {
        var m = machine(command: "SHUTDOWN")
        _ = m.handle(.start)
        _ = m.handle(.stop)
        #expect(
            m.handle(.spawned(pid: 12, generation: 1)) == [
                .signalGroup(SIGTERM), .armStopTimer(.seconds(10), generation: 1),
            ])
        #expect(m.handle(.stopCommandAnswered(.ignored, generation: 1)) == [], "a late answer changes nothing")
    }

    @Test func withoutAStopCommandTheSignalGoesAtOnce() {
        var m = machine()
        ready(&m)
        let stop = m.handle(.stop)
        #expect(stop.contains(.signalGroup(SIGTERM)))
        #expect(stop.contains(.armStopTimer(.seconds(10), generation: 1)))
        #expect(!stop.contains(.sendStopCommand(generation: 1)))
    }

    // MARK: - The alive probe

    @Test func theAliveProbeCountsFailuresInARowAndSaysHowLongItWasUnavailable() {
        var m = machine(alive: true)
        ready(&m)
        let sent = Date(timeIntervalSince1970: 1000)
        #expect(m.handle(.aliveLooked(.failed("refused"), sentAt: sent), at: .seconds(1)) == [])
        #expect(m.handle(.aliveLooked(.failed("refused"), sentAt: sent), at: .seconds(2)) == [])
        #expect(
            m.handle(.aliveLooked(.failed("refused"), sentAt: sent), at: .seconds(3))
                == [.announceAvailability(false, reason: "alive probe failed 3 times: refused")])
        #expect(m.handle(.aliveLooked(.failed("refused"), sentAt: sent), at: .seconds(4)) == [], "said once")
        #expect(
            m.handle(.aliveLooked(.passed(identity: nil), sentAt: sent), at: .milliseconds(5500))
                == [.announceAvailability(true, reason: nil, after: .milliseconds(2500))])
        // A pass in between starts the count again.
        _ = m.handle(.aliveLooked(.failed("refused"), sentAt: sent))
        _ = m.handle(.aliveLooked(.failed("refused"), sentAt: sent))
        _ = m.handle(.aliveLooked(.passed(identity: nil), sentAt: sent))
        #expect(m.handle(.aliveLooked(.failed("refused"), sentAt: sent)) == [])
        #expect(m.available)
    }

    @Test func aNewIdentityIsARestartMusterDidNotCauseSinceTheOldOneWasLastSeen() {
        var m = machine(alive: true)
        ready(&m)
        let first = Date(timeIntervalSince1970: 1000), second = first + 1, third = first + 2
        #expect(m.handle(.aliveLooked(.passed(identity: "a"), sentAt: first)) == [])
        #expect(m.handle(.aliveLooked(.passed(identity: "a"), sentAt: second)) == [])
        #expect(
            m.handle(.aliveLooked(.passed(identity: "b"), sentAt: third))
                == [
                    .restartDetected(
                        reason: "its alive probe reports a new identity (a → b)", previousPid: nil, since: second)
                ])
        #expect(m.restartsDetected == 1)
        // A new incarnation starts a new baseline: its first identity is no restart.
        _ = m.handle(.restart)
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(2), generation: 1))
        _ = m.handle(.spawned(pid: 11, generation: 2))
        #expect(m.handle(.aliveLooked(.passed(identity: "c"), sentAt: third + 1)) == [])
    }

    @Test func monitorFindingsCountOnlyWhileReady() {
        var m = machine()
        let finding = MonitorFinding.restartDetected(reason: "new postmaster", previousPid: 9, since: nil)
        #expect(m.handle(.monitorFound(finding)) == [], "pending: nothing to detect")
        ready(&m)
        #expect(
            m.handle(.monitorFound(finding)) == [.restartDetected(reason: "new postmaster", previousPid: 9, since: nil)]
        )
        #expect(m.handle(.monitorFound(.warning("connections at 85 %"))) == [.warn("connections at 85 %")])
        _ = m.handle(.stop)
        #expect(m.handle(.monitorFound(finding)) == [], "stopping: a finding is late")
        #expect(m.restartsDetected == 1)
    }

    // MARK: - Restarts and their reasons

    @Test func aRestartCausedByAFileChangeSaysSoInItsStopAndItsRestart() {
        var m = machine()
        ready(&m)
        _ = m.handle(.restartReason("files changed: app/api.py"))
        #expect(records(m.handle(.restart)).map(\.reason) == ["restart requested: files changed: app/api.py"])
        _ = m.handle(.exited(.signaled(SIGTERM), uptime: .seconds(2), generation: 1, tail: ["bye"]))
        let restarted = records(m.handle(.spawned(pid: 11, generation: 2)))
        #expect(restarted.first?.type == .restarted)
        #expect(restarted.first?.reason == "files changed: app/api.py")
        #expect(restarted.first?.logTail == ["bye"], "the restart carries the output of the incarnation that ended")
        // The reason was used up: the next restart is an ordinary request.
        #expect(records(m.handle(.restart)).map(\.reason) == ["restart requested"])
    }

    // MARK: - When a one-shot counts as ready

    @Test func aOneShotWithoutAProbeIsReadyWhenItCompletedAndTheHintComesOnce() {
        var m = machine()
        _ = m.handle(.start, at: .seconds(1))
        _ = m.handle(.spawned(pid: 10, generation: 1), at: .seconds(1))
        #expect(m.times.ready == .seconds(1), "ready at spawn")
        let done = m.handle(.exited(.exited(0), uptime: .milliseconds(300), generation: 1), at: .milliseconds(1300))
        #expect(m.phase == .completed)
        #expect(m.times.ready == .milliseconds(1300), "what counts is when it completed")
        #expect(m.times.completed == .milliseconds(1300))
        #expect(
            done.contains {
                if case let .warn(text) = $0 { return TaskSuggestion.isSuggestion(text) } else { return false }
            })
        _ = m.handle(.start, at: .seconds(2))
        _ = m.handle(.spawned(pid: 11, generation: 2), at: .seconds(2))
        let again = m.handle(.exited(.exited(0), uptime: .milliseconds(300), generation: 2), at: .milliseconds(2300))
        #expect(!again.contains { if case .warn = $0 { return true } else { return false } }, "the hint is given once")
    }

    @Test func aTaskIsNotReadyUntilItCompletes() {
        var m = machine(task: true)
        _ = m.handle(.start, at: .seconds(1))
        _ = m.handle(.spawned(pid: 10, generation: 1), at: .seconds(1))
        #expect(m.phase == .starting)
        #expect(m.times.ready == nil)
        let done = m.handle(.exited(.exited(0), uptime: .seconds(4), generation: 1), at: .seconds(5))
        #expect(m.times.ready == .seconds(5))
        #expect(!done.contains { if case .warn = $0 { return true } else { return false } }, "a task gets no hint")
    }

    @Test func anExitCarriesItsOutputAndSoDoesTheFailureItCauses() {
        var m = machine(probe: true)
        _ = m.handle(.start)
        _ = m.handle(.spawned(pid: 10, generation: 1))
        let failed = records(
            m.handle(.exited(.exited(3), uptime: .seconds(1), generation: 1, tail: ["ModuleNotFoundError"])))
        #expect(failed.map(\.type) == [.failed])
        #expect(failed.first?.logTail == ["ModuleNotFoundError"])
    }
}
