/// What a service is, for `ps` and the control API: a command, or a built-in engine
/// and, for Kafka, the implementation found. Its text is what `ps --json` shows as
/// `kind` (`command`, `postgres`, `redis`, `kafka (tansu)`), unchanged since it was a
/// string.
public enum ServiceKind: Sendable, Equatable, CustomStringConvertible {
    case command
    case postgres
    case redis
    case kafka(Implementation)

    public enum Implementation: String, Sendable {
        case tansu, apache, redpanda
    }

    public var description: String {
        switch self {
        case .command: return "command"
        case .postgres: return "postgres"
        case .redis: return "redis"
        case let .kafka(implementation): return "kafka (\(implementation.rawValue))"
        }
    }

    /// A built-in server of this engine.
    public var engine: EngineKind? {
        switch self {
        case .command: return nil
        case .postgres: return .postgres
        case .redis: return .redis
        case .kafka: return .kafka
        }
    }
}

extension ServiceKind: Codable {
    public init?(_ text: String) {
        switch text {
        case "command": self = .command
        case "postgres": self = .postgres
        case "redis": self = .redis
        default:
            guard text.hasPrefix("kafka ("), text.hasSuffix(")"),
                let implementation = Implementation(rawValue: String(text.dropFirst(7).dropLast()))
            else { return nil }
            self = .kafka(implementation)
        }
    }

    /// As its text, the string it always was.
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let kind = ServiceKind(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown service kind \(text)")
        }
        self = kind
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
