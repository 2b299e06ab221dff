import Foundation

/// A probe ready to run: polled, or told by the service's output or notify socket.
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
    public var ready: ResolvedProbe?
    public var alive: ResolvedProbe?
    public var policy: ServiceLifecycle.Policy
    public var optional: Bool
    public var dependsOn: [Dependency]
    public var port: Int?
    public var outputs: [String: String]
    /// The kind of thing this is, for `ps`: a command, or an engine and its implementation.
    public var kind: String
    /// Watchers for restarts muster did not cause (and other findings), made
    /// fresh for each incarnation once it is ready.
    public var monitors: [MonitorFactory] = [{ ProcessIdentityMonitor() }]
    /// Asks the service to stop through its own protocol, for servers that act on
    /// their stop signal only at their next timer tick (Redis: up to 100 ms).
    /// Returns false when it could not ask; the stop signal is sent then.
    /// The stop timeout and SIGKILL apply either way.
    public var stopRequest: (@Sendable () async -> Bool)?

    public struct Credentials: Sendable, Equatable {
        public var user: String
        public var uid: uid_t
        public var gid: gid_t
    }
}
