/// A readiness or liveness probe: exactly one kind plus its timing.
public struct ProbeSpec: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case http(Template)
        case tcp(Template)
        case exec(CommandSpec)
        case log(String)
        case notify
        case postgres
        case redis
        case kafka(group: String?, topic: String?)

        public var name: String {
            switch self {
            case .http: return "http"
            case .tcp: return "tcp"
            case .exec: return "exec"
            case .log: return "log"
            case .notify: return "notify"
            case .postgres: return "postgres"
            case .redis: return "redis"
            case .kafka: return "kafka"
            }
        }

        public var templates: [Template] {
            switch self {
            case let .http(t), let .tcp(t): return [t]
            case let .exec(command): return command.templates
            default: return []
            }
        }

        /// For messages: `http http://127.0.0.1:8000/healthz`.
        public var display: String {
            switch self {
            case let .http(t), let .tcp(t): return "\(name) \(t)"
            case let .exec(command): return "exec \(command.display)"
            case let .log(pattern): return "log /\(pattern)/"
            case let .kafka(group, topic):
                if let group { return "kafka group \(group)" + (topic.map { " on \($0)" } ?? "") }
                return "kafka"
            default: return name
            }
        }
    }

    public static let kindNames = ["http", "tcp", "exec", "log", "notify", "postgres", "redis", "kafka"]

    public var kind: Kind
    /// Steady-state period; the first checks come faster (ProbeSchedule).
    public var interval: Duration
    /// How long one check may take.
    public var timeout: Duration
    /// Ready probes: not ready by then means failed.
    public var startTimeout: Duration
    /// Alive probes: this many failures in a row make the service unavailable.
    public var failures: Int
    /// Alive http probes: a JSON field whose change means a new instance.
    public var identityField: String?
    public var location: SourceLocation?

    public static func readyDefaults(_ kind: Kind) -> ProbeSpec {
        ProbeSpec(
            kind: kind, interval: .milliseconds(100), timeout: .seconds(1), startTimeout: .seconds(60),
            failures: 1, identityField: nil, location: nil)
    }

    public static func aliveDefaults(_ kind: Kind) -> ProbeSpec {
        ProbeSpec(
            kind: kind, interval: .seconds(1), timeout: .seconds(1), startTimeout: .seconds(60),
            failures: 3, identityField: nil, location: nil)
    }
}
