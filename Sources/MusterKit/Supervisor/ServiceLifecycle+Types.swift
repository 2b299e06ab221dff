import Foundation

/// Where a service is in its life.
public enum ServicePhase: String, Sendable, Codable, CaseIterable {
    case pending, starting, ready, completed, exited, backoff, stopping, stopped, failed

    /// No process of this incarnation runs and none is about to.
    public var isDown: Bool { [.pending, .completed, .exited, .stopped, .failed].contains(self) }
}

/// How far a stop has gone.
public enum StopStage: Sendable, Equatable {
    /// The service's own stop command was sent (Redis `SHUTDOWN`); the stop signal
    /// follows when it brings no exit within its grace.
    case commanded
    /// The stop signal was sent.
    case asked
    /// The server's own harder stop was sent.
    case escalated
    /// SIGKILL went to every process of the service.
    case killed
}

extension ServiceLifecycle {
    /// Moments of the runner's timebase.
    public struct Times: Sendable, Equatable {
        /// The current incarnation was asked for (start or restart).
        public var started: Duration?
        /// It was found ready, or, for a one-shot without a probe, completed.
        public var ready: Duration?
        /// Its process was spawned.
        public var spawned: Duration?
        /// Its last run completed (exit 0).
        public var completed: Duration?
        /// It stopped answering its alive probe.
        public var unavailable: Duration?
    }

    public enum Event: Equatable, Sendable {
        /// Its dependencies are met (or a user started it).
        case start
        case spawned(pid: Int32, generation: Int)
        case spawnFailed(String)
        case readyPassed(generation: Int)
        /// The ready probe did not pass within start_timeout.
        case startTimedOut(String)
        /// `tail`: its last lines of output, told with the exit and the restart that follows.
        case exited(ExitStatus, uptime: Duration, generation: Int, tail: [String] = [])
        /// A task that did not need to run (its keyed snapshot is current): completed, with why.
        case skipped(String, generation: Int)
        case backoffElapsed
        case stop
        case stopTimedOut(generation: Int)
        case restart
        /// Why the next restart happens, told in its events instead of `restart requested`
        /// (a file change: `files changed: app/api.py`); nil forgets an earlier one.
        case restartReason(String?)
        /// What the service did with its stop command.
        case stopCommandAnswered(StopCommand.Outcome, generation: Int)
        /// The stop command's grace passed without an exit.
        case stopGraceElapsed(generation: Int)
        /// A look of the ready probe failed; the start timeout's message names the last one.
        case readyProbeFailed(String)
        /// One look of the alive probe, sent at `sentAt`: the lifecycle counts failures in
        /// a row and compares identities.
        case aliveLooked(ProbeOutcome, sentAt: Date)
        /// What a restart monitor found.
        case monitorFound(MonitorFinding)
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
        /// Send the service's stop command and report what it did with it.
        case sendStopCommand(generation: Int)
        /// Wait this long for an exit after the stop command, then `stopGraceElapsed`.
        case armStopGrace(Duration, generation: Int)
        case armStopTimer(Duration, generation: Int)
        case killGroup
        /// An event for the log and the console, without name or time (`ServiceEvent.lifecycle`).
        case record(ServiceEvent)
        /// The service stopped (false) or started again (true) answering its alive probe;
        /// `after`: how long it was unavailable.
        case announceAvailability(Bool, reason: String?, after: Duration? = nil)
        /// A restart muster did not cause (`since`: when the old instance was last seen).
        case restartDetected(reason: String, previousPid: Int32?, since: Date?)
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
        /// The service's own stop command (`SHUTDOWN`), tried before the stop signal.
        public var stopCommand: String?
        /// Alive-probe failures in a row that make the service unavailable.
        public var aliveFailures: Int = 3

        public init(
            hasReadyProbe: Bool, hasAliveProbe: Bool, restart: RestartPolicy, maxRestarts: Int?,
            stopSignal: Int32, stopTimeout: Duration, escalation: StopEscalation? = nil, isTask: Bool = false,
            stopCommand: String? = nil
        ) {
            self.hasReadyProbe = hasReadyProbe
            self.hasAliveProbe = hasAliveProbe
            self.restart = restart
            self.maxRestarts = maxRestarts
            self.stopSignal = stopSignal
            self.stopTimeout = stopTimeout
            self.escalation = escalation
            self.isTask = isTask
            self.stopCommand = stopCommand
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

}
