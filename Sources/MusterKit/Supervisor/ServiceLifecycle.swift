/// Where a service is in its life.
public enum ServicePhase: String, Sendable, Codable, CaseIterable {
    case pending, starting, ready, completed, exited, backoff, stopping, stopped, failed

    /// No process of this incarnation runs and none is about to.
    public var isDown: Bool { [.pending, .completed, .exited, .stopped, .failed].contains(self) }
}

/// What the state machine wants recorded (the event log and the console).
public struct LifecycleRecord: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case starting, ready, completed, exited, restarted, failed, stopping, stopped
    }

    public var kind: Kind
    public var reason: String?
    public var pid: Int32?
    public var previousPid: Int32?
    public var restarts: Int
}

/// How far a stop has gone.
public enum StopStage: Sendable, Equatable {
    /// The stop signal (or command) was sent.
    case asked
    /// The server's own harder stop was sent.
    case escalated
    /// SIGKILL went to every process of the service.
    case killed
}

/// The lifecycle of one service as a value: `handle(event)` changes the phase and
/// returns the actions the runner must perform. No I/O, no clocks: the runner turns
/// timers and processes into events, so every transition is testable on its own.
public struct ServiceLifecycle: Sendable {
    public enum Event: Equatable, Sendable {
        /// Its dependencies are met (or a user started it).
        case start
        case spawned(pid: Int32, generation: Int)
        case spawnFailed(String)
        case readyPassed(generation: Int)
        /// The ready probe did not pass within start_timeout.
        case startTimedOut(String)
        case exited(ExitStatus, uptime: Duration, generation: Int)
        /// A task that did not need to run (its keyed snapshot is current): completed, with why.
        case skipped(String, generation: Int)
        case backoffElapsed
        case stop
        case stopTimedOut(generation: Int)
        case restart
        /// Asked to start again once its dependencies allow: a stopped, failed, exited or
        /// completed service waits as `pending`, so nobody takes it for down meanwhile.
        case queue
        /// One look of the alive probe of a ready service, with the failures in a row so far.
        case aliveChecked(passed: Bool, failures: Int, threshold: Int, reason: String?)
    }

    public enum Action: Equatable, Sendable {
        /// Run pre-start steps and spawn a new incarnation with this generation.
        case spawn(generation: Int)
        case watchReadiness(generation: Int)
        case armStartTimer
        case cancelStartTimer
        /// Start the alive probe (if any) and the restart monitors.
        case watchAliveness(generation: Int)
        case stopProbes
        case scheduleRestart(after: Duration)
        case cancelRestart
        case signalGroup(Int32)
        case armStopTimer(Duration, generation: Int)
        case killGroup
        case record(LifecycleRecord)
        /// The service stopped (false) or started again (true) answering its alive probe.
        case announceAvailability(Bool, reason: String?)
        /// A line for the event log that changes no phase (a stop that escalates).
        case warn(String)
    }

    /// How the service was configured; fixed for its lifetime.
    public struct Policy: Sendable {
        public var hasReadyProbe: Bool
        public var hasAliveProbe: Bool
        public var restart: RestartPolicy
        public var maxRestarts: Int?
        public var stopSignal: Int32
        public var stopTimeout: Duration
        /// A second, harder stop the server itself offers, between the stop signal and
        /// SIGKILL (Postgres: immediate shutdown after fast shutdown).
        public var escalation: StopEscalation?
        /// Runs once and must exit 0 (`task: true`, or waited for with `completed`):
        /// it is up when it has completed, not when it spawned, and any other exit fails it.
        public var isTask: Bool

        public init(hasReadyProbe: Bool, hasAliveProbe: Bool, restart: RestartPolicy, maxRestarts: Int?,
                    stopSignal: Int32, stopTimeout: Duration, escalation: StopEscalation? = nil, isTask: Bool = false) {
            self.hasReadyProbe = hasReadyProbe
            self.hasAliveProbe = hasAliveProbe
            self.restart = restart
            self.maxRestarts = maxRestarts
            self.stopSignal = stopSignal
            self.stopTimeout = stopTimeout
            self.escalation = escalation
            self.isTask = isTask
        }
    }

    /// The server's own last resort before SIGKILL: a signal it handles by ending
    /// every process of it at once, and how long it gets to do so.
    public struct StopEscalation: Equatable, Sendable {
        public var signal: Int32
        public var grace: Duration
        /// What the stop signal is called for this server (`fast shutdown`).
        public var stopName: String
        /// What the escalation is called (`immediate shutdown`).
        public var name: String

        public init(signal: Int32, grace: Duration, stopName: String, name: String) {
            self.signal = signal
            self.grace = grace
            self.stopName = stopName
            self.name = name
        }
    }

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
    public private(set) var stopStage: StopStage = .asked
    var previousPid: Int32?
    var isRestart = false

    public init(policy: Policy) {
        self.policy = policy
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (phase, event) {
        case (.pending, .start), (.completed, .start), (.exited, .start), (.stopped, .start), (.failed, .start):
            return begin(restart: phase != .pending || queuedFrom != nil)

        case (.completed, .queue), (.exited, .queue), (.stopped, .queue), (.failed, .queue):
            queuedFrom = phase
            phase = .pending
            return []

        case let (.ready, .aliveChecked(passed, failures, threshold, reason)):
            if available, !passed, failures >= threshold {
                available = false
                return [.announceAvailability(false, reason: reason)]
            }
            if !available, passed {
                available = true
                return [.announceAvailability(true, reason: nil)]
            }
            return []

        case (.starting, let .spawned(pid, gen)) where gen == generation:
            self.pid = pid
            available = true
            wasEverStarted = true
            let kind: LifecycleRecord.Kind = isRestart ? .restarted : .starting
            var actions: [Action] = [.record(record(kind, reason: isRestart ? (lastExitReason ?? lastExit?.description) : nil))]
            if policy.hasReadyProbe {
                actions.append(.watchReadiness(generation: generation))
            } else if !policy.isTask {
                actions += becomeReady()
            }  // a task without a probe stays starting until it exits
            return actions

        case (.starting, let .spawnFailed(reason)):
            return fail(reason)

        case (.starting, let .readyPassed(gen)) where gen == generation:
            return becomeReady()

        case (.starting, let .startTimedOut(reason)), (.backoff, let .startTimedOut(reason)):
            if phase == .backoff { return [.cancelRestart] + fail(reason) }
            return beginStop(.fail(reason))

        case (.starting, let .exited(status, uptime, gen)) where gen == generation,
             (.ready, let .exited(status, uptime, gen)) where gen == generation:
            return processExited(status, uptime: uptime)

        case (.starting, let .skipped(reason, gen)) where gen == generation:
            phase = .completed
            return [.cancelStartTimer, .record(record(.completed, reason: reason))]

        case (.backoff, .backoffElapsed):
            return spawnAgain()

        case (.starting, .stop), (.ready, .stop):
            return beginStop(.stop)
        case (.backoff, .stop):
            phase = .stopped
            return [.cancelRestart, .cancelStartTimer, .record(record(.stopped, reason: "stopped while waiting to restart"))]
        case (.pending, .stop):
            phase = .stopped
            return []

        case (.stopping, let .spawned(pid, gen)) where gen == generation:
            // A stop arrived while the process was being spawned: stop it now.
            self.pid = pid
            wasEverStarted = true
            return [.signalGroup(policy.stopSignal)]
        case (.stopping, .spawnFailed):
            return finishStop()

        case (.stopping, let .exited(status, _, gen)) where gen == generation:
            lastExit = status
            return finishStop()
        case (.stopping, let .stopTimedOut(gen)) where gen == generation:
            return escalateStop()

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
        // Watching starts for every service: the alive probe where there is one,
        // and the monitors that notice restarts muster did not cause.
        return [.cancelStartTimer, .record(record(.ready)), .watchAliveness(generation: generation)]
    }

    private mutating func beginStop(_ intent: Intent) -> [Action] {
        self.intent = intent
        phase = .stopping
        stopStage = .asked
        var actions: [Action] = [.stopProbes]
        if case .stop = intent { actions.append(.cancelStartTimer) }
        if case .fail = intent { actions.append(.cancelStartTimer) }
        actions += [
            .record(record(.stopping, reason: stopReason(intent))),
            .signalGroup(policy.stopSignal),
            .armStopTimer(policy.stopTimeout, generation: generation),
        ]
        return actions
    }

    /// The stop timed out: the server's own escalation if it has one and it was not
    /// tried yet, SIGKILL of every process of the service otherwise.
    private mutating func escalateStop() -> [Action] {
        let signalName = SignalName.name(of: policy.stopSignal)
        switch (stopStage, policy.escalation) {
        case let (.asked, escalation?):
            stopStage = .escalated
            return [
                .warn("did not stop within \(DurationParser.format(policy.stopTimeout)) of \(signalName) (\(escalation.stopName)); "
                    + "sent \(SignalName.name(of: escalation.signal)) (\(escalation.name))"),
                .signalGroup(escalation.signal),
                .armStopTimer(escalation.grace, generation: generation),
            ]
        case let (.escalated, escalation?):
            stopStage = .killed
            return [
                .warn("\(escalation.name) did not end it within \(DurationParser.format(escalation.grace)); sent SIGKILL to every process of it"),
                .killGroup,
            ]
        case (.killed, _):
            return []
        default:
            stopStage = .killed
            return [.warn("did not stop within \(DurationParser.format(policy.stopTimeout)) of \(signalName); sent SIGKILL to every process of it"),
                    .killGroup]
        }
    }

    private func stopReason(_ intent: Intent) -> String? {
        switch intent {
        case .stop: return nil
        case .restart: return "restart requested"
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
            return [.stopProbes] + fail("\(status) after \(DurationParser.format(uptime)); a task must exit with code 0")
        }
        if !wasReadyNow {
            return [.stopProbes] + fail("\(status) before it was ready")
        }
        phase = .exited
        lastExitReason = Self.exitReason(status, uptime: uptime, wasReady: true)
        return [.stopProbes, .record(record(.exited, reason: lastExitReason))]
    }

    private mutating func fail(_ reason: String) -> [Action] {
        phase = .failed
        failure = reason
        return [.cancelStartTimer, .record(record(.failed, reason: reason))]
    }

    private func record(_ kind: LifecycleRecord.Kind, reason: String? = nil) -> LifecycleRecord {
        LifecycleRecord(kind: kind, reason: reason, pid: pid,
                        previousPid: kind == .restarted ? previousPid : nil, restarts: restarts)
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
