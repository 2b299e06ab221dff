import Foundation

extension ServiceLifecycle {
    /// How long the stop command waits for the peer's answer (a socket read).
    public static let stopCommandAnswerLimit: Duration = .milliseconds(100)
    /// The stop command then gets a grace to bring an exit: a second, or half a second
    /// after the server closed the connection as it does on its way out. A second, not
    /// less: a real Redis saves its data before it exits, and on a loaded CI machine
    /// that took over 200 ms (it then got SIGTERM and a warning it had not earned).
    public static let stopCommandGrace: Duration = .seconds(1)
    public static let stopCommandClosedGrace: Duration = .milliseconds(500)
}

/// How the stop of one incarnation goes on, rung by rung: the stop command and its
/// grace (when the service has one), the stop signal and the stop timeout, the
/// server's own escalation (when it has one), SIGKILL of every process of it. A value
/// the lifecycle owns: each step says what the runner does next, and only the
/// lifecycle (which checks that an event belongs to the incarnation being stopped)
/// moves it on.
struct StopLadder: Sendable {
    /// How far it has gone.
    private(set) var stage: StopStage = .asked
    /// The stop command's answer, for the line that says the stop signal followed.
    private(set) var commandOutcome: StopCommand.Outcome?

    typealias Policy = ServiceLifecycle.Policy
    typealias Action = ServiceLifecycle.Action

    /// The first rung: the stop command when the service has one, the stop signal otherwise.
    mutating func begin(_ policy: Policy, generation: Int) -> [Action] {
        if policy.stopCommand != nil {
            stage = .commanded
            commandOutcome = nil
            return [.sendStopCommand(generation: generation)]
        }
        stage = .asked
        return [.signalGroup(policy.stopSignal), .armStopTimer(policy.stopTimeout, generation: generation)]
    }

    /// The stop command answered: refused, the stop signal now; otherwise a grace for the exit.
    mutating func commandAnswered(_ outcome: StopCommand.Outcome, _ policy: Policy, generation: Int) -> [Action] {
        commandOutcome = outcome
        switch outcome {
        case .refused: return signalAfterCommand(grace: .zero, policy, generation: generation)
        case .closed: return [.armStopGrace(ServiceLifecycle.stopCommandClosedGrace, generation: generation)]
        case .ignored: return [.armStopGrace(ServiceLifecycle.stopCommandGrace, generation: generation)]
        }
    }

    /// The stop command's grace ran out with the process still there.
    mutating func commandGraceElapsed(_ policy: Policy, generation: Int) -> [Action] {
        signalAfterCommand(
            grace: commandOutcome == .closed
                ? ServiceLifecycle.stopCommandClosedGrace : ServiceLifecycle.stopCommandGrace,
            policy, generation: generation)
    }

    /// The process came up after its stop began: the stop signal now.
    mutating func spawnedWhileStopping(_ policy: Policy, generation: Int) -> [Action] {
        guard stage == .commanded else { return [.signalGroup(policy.stopSignal)] }
        // The stop command found no process to ask: the signal, and the stop timer with it.
        stage = .asked
        return [.signalGroup(policy.stopSignal), .armStopTimer(policy.stopTimeout, generation: generation)]
    }

    /// The stop command brought no exit within `grace` (zero: it was refused): the stop
    /// signal goes now, and only then does the stop timeout run.
    private mutating func signalAfterCommand(grace: Duration, _ policy: Policy, generation: Int) -> [Action] {
        stage = .asked
        let why =
            commandOutcome == .refused
            ? "could not be sent or was refused"
            : "brought no exit within \(DurationParser.format(grace))"
        return [
            .signalGroup(policy.stopSignal),
            .armStopTimer(policy.stopTimeout, generation: generation),
            .warn("\(policy.stopCommand ?? "the stop command") \(why); sent \(SignalName.name(of: policy.stopSignal))"),
        ]
    }

    /// The stop timed out: the server's own escalation if it has one and it was not
    /// tried yet, SIGKILL of every process of the service otherwise.
    mutating func timedOut(_ policy: Policy, generation: Int) -> [Action] {
        let signalName = SignalName.name(of: policy.stopSignal)
        switch (stage, policy.escalation) {
        case let (.asked, escalation?):
            stage = .escalated
            return [
                .warn(
                    "did not stop within \(DurationParser.format(policy.stopTimeout)) of \(signalName) (\(escalation.stopName)); "
                        + "sent \(SignalName.name(of: escalation.signal)) (\(escalation.name))"),
                .signalGroup(escalation.signal),
                .armStopTimer(escalation.grace, generation: generation),
            ]
        case let (.escalated, escalation?):
            stage = .killed
            return [
                .warn(
                    "\(escalation.name) did not end it within \(DurationParser.format(escalation.grace)); sent SIGKILL to every process of it"
                ),
                .killGroup,
            ]
        case (.killed, _), (.commanded, _):
            return []
        default:
            stage = .killed
            return [
                .warn(
                    "did not stop within \(DurationParser.format(policy.stopTimeout)) of \(signalName); sent SIGKILL to every process of it"
                ),
                .killGroup,
            ]
        }
    }
}
