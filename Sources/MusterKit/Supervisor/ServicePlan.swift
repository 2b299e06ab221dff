import Foundation

/// A probe ready to run: polled, or told by the service's output or notify socket.
/// Unchecked: NSRegularExpression is immutable once made, and the probes are Sendable.
public enum ResolvedProbe: @unchecked Sendable {
    case polling(any PollingProbe, ProbeSpec)
    case log(NSRegularExpression, ProbeSpec)
    case notify(ProbeSpec)

    public var spec: ProbeSpec {
        switch self {
        case let .polling(_, spec), let .log(_, spec), let .notify(spec): return spec
        }
    }
}

/// A step before the process starts (an engine's initdb, config files, chown).
public typealias PreStartStep = @Sendable (PreStartContext) async throws -> Void

/// What a pre-start step may use: where to log, how to run helper programs.
public struct PreStartContext: Sendable {
    public let service: String
    public let logFD: Int32
}

/// Everything a runner needs to start one service, with ports chosen and
/// `${service.output}` references resolved.
public struct ServicePlan: Sendable {
    public var name: String
    public var executable: String
    public var argv: [String]
    public var environment: [String: String]
    public var workingDir: String
    public var credentials: Credentials?
    public var preStart: [PreStartStep] = []
    /// Steps after a task exits successfully and before it counts as completed (a
    /// Postgres snapshot taken after a migration). A step that throws fails the task.
    public var afterCompletion: [PreStartStep] = []
    /// Asked before a task's first run: a reason to skip it (its keyed snapshot is
    /// current and was restored), or nil to run it.
    public var skipCheck: (@Sendable (PreStartContext) async -> String?)?
    public var ready: ResolvedProbe?
    public var alive: ResolvedProbe?
    public var policy: ServiceLifecycle.Policy
    public var optional: Bool
    public var dependsOn: [Dependency]
    public var port: Int?
    public var outputs: [String: String]
    /// The kind of thing this is, for `ps`: a command, or an engine and its implementation.
    public var kind: ServiceKind
    /// Watchers for restarts muster did not cause (and other findings), made
    /// fresh for each incarnation once it is ready.
    public var monitors: [MonitorFactory] = [{ ProcessIdentityMonitor() }]
    /// Asks the service to stop through its own protocol, for servers that act on
    /// their stop signal only at their next timer tick (Redis: up to 100 ms).
    /// When it brings no exit within a short grace, the stop signal follows at once,
    /// and only then does the stop timeout (and SIGKILL after it) run.
    public var stopCommand: StopCommand?
    /// What the engine checks, after every process of a stopped service is gone, before
    /// the service counts as stopped: nil when all is released, else what still holds
    /// (Postgres: processes still attached to its shared memory).
    public var releaseCheck: (@Sendable () -> String?)?
    /// How large its log may grow before it rotates (`logs:`).
    public var logLimit = LogLimit()
    /// What a restart of it loses, for a server that keeps its data in memory (Tansu:
    /// every message): added to the reason of its `restarted` and `restart_detected` events.
    public var lostOnRestart: String?

    public struct Credentials: Sendable, Equatable {
        public var user: String
        public var uid: uid_t
        public var gid: gid_t
    }
}

extension ServicePlan {
    /// The reason of a `restarted` or `restart_detected` event, with what the restart
    /// lost when the service keeps its data in memory:
    /// `restart requested; the broker keeps messages in memory: every message is gone`.
    public func restartReason(_ reason: String?) -> String? {
        guard let lostOnRestart else { return reason }
        guard let reason, !reason.isEmpty else { return lostOnRestart }
        return reason + "; " + lostOnRestart
    }
}

/// A stop asked through the service's own protocol (Redis `SHUTDOWN`).
public struct StopCommand: Sendable {
    /// What the peer did with the command.
    public enum Outcome: Sendable, Equatable {
        /// It could not be sent, or the service answered with a refusal: signal at once.
        case refused
        /// The service closed the connection, as a server does when it exits.
        case closed
        /// No answer within the limit, or one that is not the protocol's.
        case ignored
    }

    /// For messages: `SHUTDOWN`.
    public var name: String
    /// Sends the command and waits at most `limit` for the peer's answer.
    public var send: @Sendable (_ limit: Duration) async -> Outcome

    public init(name: String, send: @escaping @Sendable (_ limit: Duration) async -> Outcome) {
        self.name = name
        self.send = send
    }
}
