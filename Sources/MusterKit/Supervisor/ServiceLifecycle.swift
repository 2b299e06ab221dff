import Foundation

/// The lifecycle of one service as a value: `handle(event, at:)` changes the phase and
/// returns the actions the runner must perform. No I/O, no clocks: the runner turns
/// timers and processes into events and says when each happened, so every rule (the
/// stop command's protocol and the stop ladder, when a task counts as ready, failures
/// of the alive probe in a row, restarts muster did not cause, why a restart happened)
/// is a transition testable on its own.
public struct ServiceLifecycle: Sendable {
    /// Why a process is being stopped: decides the phase once it has exited.
    enum Intent: Equatable, Sendable {
        case stop
        case fail(String)
        case restart
    }

    /// Backoff starts here and doubles per failure in a row, up to `maxBackoff`.
    public static let firstBackoff: Duration = .milliseconds(100)
    public static let maxBackoff: Duration = .seconds(10)
    /// Running this long clears the failures-in-a-row count, as Docker does.
    public static let healthyUptime: Duration = .seconds(10)

    public let policy: Policy
    public private(set) var phase: ServicePhase = .pending
    public private(set) var pid: Int32?
    public private(set) var generation = 0
    /// Total restarts since `up` (policy and commands).
    public private(set) var restarts = 0
    /// Failures without a healthy run between them: compared to `max_restarts`.
    public private(set) var failuresInARow = 0
    public private(set) var wasEverStarted = false
    public private(set) var wasEverReady = false
    public private(set) var failure: String?
    /// A ready service answers its alive probe: false after `failures` misses in a row,
    /// true again at the first pass, and for every new incarnation.
    public private(set) var available = true
    /// The phase it was queued from (`queue`): its next start is a start again.
    var queuedFrom: ServicePhase?
    public private(set) var lastExit: ExitStatus?
    /// Why the last incarnation ended, as the `restarted` event tells it.
    var lastExitReason: String?
    var intent: Intent = .stop
    /// How far the stop of this incarnation has gone: the stop signal, the escalation, SIGKILL.
    public var stopStage: StopStage { stopLadder.stage }
    private var stopLadder = StopLadder()
    var previousPid: Int32?
    var isRestart = false
    /// When things happened, as moments of the runner's timebase.
    public private(set) var times = Times()
    /// The moment of the event being handled.
    private var now: Duration = .zero
    /// The last lines of output of the incarnation that ended last.
    public private(set) var lastExitTail: [String] = []
    /// Why the next restart happens, when something other than a request caused it.
    var pendingRestartReason: String?
    /// What the last failed look of the ready probe said.
    public private(set) var lastProbeError: String?
    var aliveIdentity = IdentityTracker()
    var aliveFailures = 0
    /// Restarts muster did not cause, seen by monitors or the alive probe's identity.
    public private(set) var restartsDetected = 0
    /// The `task: true` hint is given once per supervisor.
    var suggestedTask = false
    /// Why its last run was skipped (`skipped: snapshot for key 3f2a… is current`).
    public private(set) var skipped: String?

    public init(policy: Policy) {
        self.policy = policy
    }

    /// Handles `event`, which happened at moment `now` of the runner's timebase.
    public mutating func handle(_ event: Event, at now: Duration = .zero) -> [Action] {
        self.now = now
        let before = phase
        if event == .start || event == .restart { times.started = now; times.ready = nil }
        if case let .exited(_, _, gen, tail) = event, gen == generation { lastExitTail = tail }
        var actions = transition(event)
        if phase == .ready || phase == .completed, times.ready == nil { times.ready = now }
        if phase == .completed, before != .completed {
            // A one-shot that is not a task is "ready" the moment it spawns; what counts is when it completed.
            if !policy.hasReadyProbe { times.ready = now }
            times.completed = now
            if case let .exited(status, uptime, _, _) = event, !suggestedTask,
                let hint = TaskSuggestion.reason(policy: policy, status: status, uptime: uptime)
            {
                suggestedTask = true
                actions.append(.warn(hint))
            }
        }
        return actions
    }

    private mutating func transition(_ event: Event) -> [Action] {
        switch (phase, event) {
        case let (_, .restartReason(reason)):
            pendingRestartReason = reason
            return []

        case let (.starting, .readyProbeFailed(reason)):
            lastProbeError = reason
            return []

        case let (.ready, .aliveLooked(outcome, sentAt)):
            return aliveLooked(outcome, sentAt: sentAt)

        case let (.ready, .monitorFound(finding)):
            return monitorFound(finding)

        case let (.stopping, .stopCommandAnswered(outcome, gen)) where gen == generation && stopStage == .commanded:
            return stopLadder.commandAnswered(outcome, policy, generation: generation)
        case let (.stopping, .stopGraceElapsed(gen)) where gen == generation && stopStage == .commanded:
            return stopLadder.commandGraceElapsed(policy, generation: generation)

        case (.pending, .start), (.completed, .start), (.exited, .start), (.stopped, .start), (.failed, .start):
            return begin(restart: phase != .pending || queuedFrom != nil)

        case (.completed, .queue), (.exited, .queue), (.stopped, .queue), (.failed, .queue):
            queuedFrom = phase
            phase = .pending
            return []

        case let (.ready, .aliveChecked(passed, failures, threshold, reason)):
            if available, !passed, failures >= threshold {
                available = false
                times.unavailable = now
                return [.announceAvailability(false, reason: reason)]
            }
            if !available, passed {
                available = true
                return [.announceAvailability(true, reason: nil, after: times.unavailable.map { now - $0 })]
            }
            return []

        case (.starting, let .spawned(pid, gen)) where gen == generation:
            self.pid = pid
            times.spawned = now
            available = true
            wasEverStarted = true
            let kind: EventKind = isRestart ? .restarted : .starting
            var actions: [Action] = [
                .record(record(kind, reason: isRestart ? (lastExitReason ?? lastExit?.description) : nil))
            ]
            if policy.hasReadyProbe {
                actions.append(.watchReadiness(generation: generation))
            } else if !policy.isTask {
                actions += becomeReady()
            }  // a task without a probe stays starting until it exits
            return actions

        case (.starting, let .skipped(reason, gen)) where gen == generation:
            phase = .completed
            skipped = reason
            return [.cancelStartTimer, .record(record(.completed, reason: reason))]

        case (.starting, let .spawnFailed(reason)):
            return fail(reason)

        case (.starting, let .readyPassed(gen)) where gen == generation:
            return becomeReady()

        case (.starting, let .startTimedOut(reason)), (.backoff, let .startTimedOut(reason)):
            if phase == .backoff { return [.cancelRestart] + fail(reason) }
            return beginStop(.fail(reason))

        case (.starting, let .exited(status, uptime, gen, _)) where gen == generation,
            (.ready, let .exited(status, uptime, gen, _)) where gen == generation:
            return processExited(status, uptime: uptime)

        case (.backoff, .backoffElapsed):
            return spawnAgain()

        case (.starting, .stop), (.ready, .stop):
            return beginStop(.stop)
        case (.backoff, .stop):
            phase = .stopped
            return [
                .cancelRestart, .cancelStartTimer,
                .record(record(.stopped, reason: "stopped while waiting to restart")),
            ]
        case (.pending, .stop):
            phase = .stopped
            return []

        case (.stopping, let .spawned(pid, gen)) where gen == generation:
            // A stop arrived while the process was being spawned: stop it now.
            self.pid = pid
            times.spawned = now
            wasEverStarted = true
            return stopLadder.spawnedWhileStopping(policy, generation: generation)
        case (.stopping, .spawnFailed):
            return finishStop()

        case (.stopping, let .exited(status, _, gen, _)) where gen == generation:
            lastExit = status
            return finishStop()
        case (.stopping, let .stopTimedOut(gen)) where gen == generation:
            return stopLadder.timedOut(policy, generation: generation)

        case (.starting, .restart), (.ready, .restart):
            return beginStop(.restart)
        case (.backoff, .restart):
            return [.cancelRestart] + spawnAgain()
        case (.completed, .restart), (.exited, .restart), (.stopped, .restart), (.failed, .restart):
            return begin(restart: true)

        default:
            return []  // stale or irrelevant for this phase: ignored by design
        }
    }

    // MARK: - Transitions

    private mutating func begin(restart: Bool) -> [Action] {
        failure = nil
        failuresInARow = 0
        lastExitReason = (queuedFrom ?? phase) == .completed ? "run again on request" : "started again on request"
        queuedFrom = nil
        if restart && wasEverStarted {
            restarts += 1
            previousPid = pid
            isRestart = true
        }
        return startIncarnation() + (policy.hasReadyProbe ? [.armStartTimer] : [])
    }

    private mutating func startIncarnation() -> [Action] {
        phase = .starting
        skipped = nil
        generation += 1
        return [.spawn(generation: generation)]
    }

    private mutating func spawnAgain() -> [Action] {
        restarts += 1
        previousPid = pid
        isRestart = true
        return startIncarnation()
    }

    private mutating func becomeReady() -> [Action] {
        phase = .ready
        wasEverReady = true
        aliveIdentity = IdentityTracker()
        aliveFailures = 0
        // Watching starts for every service: the alive probe where there is one,
        // and the monitors that notice restarts muster did not cause.
        return [.cancelStartTimer, .record(record(.ready)), .watchAliveness(generation: generation)]
    }

    private mutating func beginStop(_ intent: Intent) -> [Action] {
        self.intent = intent
        phase = .stopping
        var actions: [Action] = [.stopProbes]
        if case .stop = intent { actions.append(.cancelStartTimer) }
        if case .fail = intent { actions.append(.cancelStartTimer) }
        actions.append(.record(record(.stopping, reason: stopReason(intent))))
        return actions + stopLadder.begin(policy, generation: generation)
    }

    private func stopReason(_ intent: Intent) -> String? {
        switch intent {
        case .stop: return nil
        case .restart: return "restart requested" + (pendingRestartReason.map { ": " + $0 } ?? "")
        case let .fail(reason): return reason
        }
    }

    private mutating func finishStop() -> [Action] {
        switch intent {
        case .stop:
            phase = .stopped
            return [.record(record(.stopped, reason: lastExit?.description))]
        case let .fail(reason):
            return fail(reason)
        case .restart:
            lastExitReason = "restart requested"
            let actions = spawnAgain()
            return actions + (policy.hasReadyProbe ? [.armStartTimer] : [])
        }
    }

    private mutating func processExited(_ status: ExitStatus, uptime: Duration) -> [Action] {
        let wasReadyNow = phase == .ready
        lastExit = status
        if uptime >= Self.healthyUptime { failuresInARow = 0 }
        let wantsRestart = policy.restart == .always || (policy.restart == .onFailure && !status.isSuccess)
        if wantsRestart {
            failuresInARow += 1
            if let limit = policy.maxRestarts, failuresInARow > limit {
                return [.stopProbes] + fail("\(status) and was restarted \(limit) times in a row; giving up")
            }
            phase = .backoff
            let delay = Self.backoff(afterFailures: failuresInARow)
            lastExitReason = Self.exitReason(status, uptime: uptime, wasReady: wasReadyNow)
            return [
                .stopProbes,
                .record(record(.exited, reason: lastExitReason)),
                .scheduleRestart(after: delay),
            ]
        }
        if status.isSuccess {
            phase = .completed
            return [.stopProbes, .cancelStartTimer, .record(record(.completed, reason: status.description))]
        }
        if policy.isTask {
            return [.stopProbes]
                + fail("\(status) after \(DurationParser.format(uptime)); a task must exit with code 0")
        }
        if !wasReadyNow {
            return [.stopProbes] + fail("\(status) before it was ready")
        }
        phase = .exited
        lastExitReason = Self.exitReason(status, uptime: uptime, wasReady: true)
        return [.stopProbes, .record(record(.exited, reason: lastExitReason))]
    }

    /// One look of the alive probe: a new identity is a restart muster did not cause;
    /// `policy.aliveFailures` failures in a row make the service unavailable.
    private mutating func aliveLooked(_ outcome: ProbeOutcome, sentAt: Date) -> [Action] {
        var actions: [Action] = []
        if case let .passed(identity?) = outcome, let previous = aliveIdentity.observe(identity, at: sentAt) {
            actions += monitorFound(
                .restartDetected(
                    reason: "its alive probe reports a new identity (\(previous) → \(identity))",
                    previousPid: nil, since: aliveIdentity.previousSeenAt))
        }
        aliveFailures = outcome.passed ? 0 : aliveFailures + 1
        var reason: String?
        if case let .failed(why) = outcome { reason = "alive probe failed \(aliveFailures) times: \(why)" }
        return actions
            + transition(
                .aliveChecked(
                    passed: outcome.passed, failures: aliveFailures,
                    threshold: policy.aliveFailures, reason: reason))
    }

    private mutating func monitorFound(_ finding: MonitorFinding) -> [Action] {
        switch finding {
        case let .restartDetected(reason, previousPid, since):
            restartsDetected += 1
            return [.restartDetected(reason: reason, previousPid: previousPid, since: since)]
        case let .warning(text):
            return [.warn(text)]
        }
    }

    private mutating func fail(_ reason: String) -> [Action] {
        phase = .failed
        failure = reason
        return [.cancelStartTimer, .record(record(.failed, reason: reason))]
    }

    private mutating func record(_ kind: EventKind, reason: String? = nil) -> ServiceEvent {
        var reason = reason
        if kind == .restarted, let cause = pendingRestartReason {
            reason = cause
            pendingRestartReason = nil
        }
        var event = ServiceEvent.lifecycle(
            kind, pid: pid, previousPid: kind == .restarted ? previousPid : nil,
            restarts: restarts, reason: reason)
        if [.exited, .failed, .restarted].contains(kind) { event.logTail = lastExitTail }
        return event
    }

    /// `exited with code 1 after 3.2s; was ready`.
    static func exitReason(_ status: ExitStatus, uptime: Duration, wasReady: Bool) -> String {
        "\(status) after \(DurationParser.format(uptime)); " + (wasReady ? "was ready" : "before it was ready")
    }

    /// 100 ms, 200 ms, 400 ms, ... up to 10 s.
    public static func backoff(afterFailures failures: Int) -> Duration {
        let exponent = min(max(failures - 1, 0), 20)
        let delay = firstBackoff * (1 << exponent)
        return min(delay, maxBackoff)
    }
}
