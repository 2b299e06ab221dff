import Foundation
import Yams

/// The engine-only fields an imported postgres, redis or kafka service gets from
/// its compose block: server flags become `settings`, the image's environment
/// variables become `user`, `password`, `databases` or `topics`. Anything that
/// only configures the container is listed in `dropped` for a comment.
struct ComposeEngineFields {
    var pairs: [YAMLPair] = []
    var dropped: [String] = []

    init(kind: EngineKind, service: Node) {
        self.init(
            kind: kind, command: ComposeValues.words(ComposeValues.value(service, "command")),
            environment: ComposeValues.environment(ComposeValues.value(service, "environment")))
    }

    /// From a command line and environment read elsewhere (a process-compose process).
    init(kind: EngineKind, command: [String]?, environment: [(key: String, value: String?)]) {
        switch kind {
        case .postgres: postgres(command: command, environment: environment)
        case .redis: redis(command: command, environment: environment)
        case .kafka: kafka(command: command, environment: environment)
        }
    }

    /// A setting value: whole numbers print bare, anything else as a string.
    static func settingValue(_ text: String) -> YAMLNode {
        if let number = Int(text), String(number) == text, number >= 0 { return .number(number) }
        return .string(text)
    }

    mutating func addSettings(_ settings: [(String, String)]) {
        guard !settings.isEmpty else { return }
        pairs.append(YAMLPair("settings", .map(settings.map { YAMLPair($0.0, Self.settingValue($0.1)) })))
    }

    // MARK: postgres

    /// Single-letter postgres flags that name a setting.
    static let postgresLetters = ["-N": "max_connections", "-B": "shared_buffers", "-S": "work_mem"]

    mutating func postgres(command: [String]?, environment: [(key: String, value: String?)]) {
        if var words = command {
            if words.first == "docker-entrypoint.sh" { words.removeFirst() }
            if words.first == "postgres" { words.removeFirst() }
            var settings: [(String, String)] = []
            var index = 0
            while index < words.count {
                let word = words[index]
                index += 1
                var assignment: String?
                if word == "-c", index < words.count {
                    assignment = words[index]; index += 1
                } else if word.hasPrefix("-c"), word.count > 2 {
                    assignment = String(word.dropFirst(2))
                } else if word.hasPrefix("--"), word.contains("=") {
                    assignment = String(word.dropFirst(2))
                } else if let name = Self.postgresLetters[word], index < words.count {
                    settings.append((name, words[index])); index += 1
                    continue
                } else if word == "-F" {
                    settings.append(("fsync", "off"))
                    continue
                }
                if let assignment, let equals = assignment.firstIndex(of: "=") {
                    let key = assignment[..<equals].replacingOccurrences(of: "-", with: "_")
                    settings.append((key, String(assignment[assignment.index(after: equals)...])))
                } else {
                    dropped.append("command word \(word)")
                }
            }
            addSettings(settings)
        }
        var user: String?
        for (key, written) in environment {
            // `KEY` alone passes the host's variable through: muster interpolates it the same way.
            let value: String? = written ?? "${\(key)}"
            switch (key, value) {
            case ("POSTGRES_DB", let value?):
                pairs.append(YAMLPair("databases", .flow([.string(value)])))
            case ("POSTGRES_USER", let value?):
                user = value
                pairs.append(YAMLPair("user", .string(value)))
            case ("POSTGRES_PASSWORD", let value?):
                pairs.append(YAMLPair("password", .string(value)))
            default:
                dropped.append("environment \(key)")
            }
        }
        // The image creates a database named after POSTGRES_USER when POSTGRES_DB is unset.
        if let user, !pairs.contains(where: { $0.key == "databases" }) {
            pairs.append(
                YAMLPair(
                    "databases", .flow([.string(user)]), trailing: "the image's default: POSTGRES_DB = POSTGRES_USER"))
        }
        pairs.sort { Self.order($0.key) < Self.order($1.key) }
    }

    static func order(_ key: String) -> Int {
        ["implementation", "settings", "databases", "user", "password", "topics"].firstIndex(of: key) ?? 99
    }

    // MARK: redis

    /// Flags muster sets itself (it binds 127.0.0.1 on its chosen port, in the foreground).
    static let redisOwnFlags: Set<String> = ["port", "bind", "daemonize", "dir", "protected-mode"]

    /// Programs that serve the Redis protocol with redis-server's flags.
    static let redisServers: Set<String> = ["redis-server", "valkey-server", "redis-stack-server"]

    mutating func redis(command: [String]?, environment: [(key: String, value: String?)]) {
        if var words = command {
            if words.first == "docker-entrypoint.sh" { words.removeFirst() }
            if let first = words.first, Self.redisServers.contains((first as NSString).lastPathComponent) {
                words.removeFirst()
                var settings: [(String, String)] = []
                var index = 0
                while index < words.count {
                    let word = words[index]
                    index += 1
                    guard word.hasPrefix("--"), word.count > 2 else {
                        dropped.append(
                            word.hasSuffix(".conf")
                                ? "config file \(word) (copy its lines into settings)" : "command word \(word)")
                        continue
                    }
                    var values: [String] = []
                    while index < words.count, !words[index].hasPrefix("--") { values.append(words[index]); index += 1 }
                    let key = String(word.dropFirst(2))
                    let value = values.joined(separator: " ")
                    if key == "requirepass" {
                        pairs.append(YAMLPair("password", .string(value)))
                    } else if Self.redisOwnFlags.contains(key) {
                        dropped.append("--\(key) (muster sets it)")
                    } else {
                        settings.append((key, value))
                    }
                }
                addSettings(settings)
            } else if !words.isEmpty {
                dropped.append("command \(words.joined(separator: " ")) (not a redis-server command line)")
            }
        }
        for (key, value) in environment {
            if key == "REDIS_PASSWORD", let value, !pairs.contains(where: { $0.key == "password" }) {
                pairs.append(YAMLPair("password", .string(value)))
            } else {
                dropped.append("environment \(key)")
            }
        }
        pairs.sort { Self.order($0.key) < Self.order($1.key) }
    }

    // MARK: kafka

    mutating func kafka(command: [String]?, environment: [(key: String, value: String?)]) {
        if let command, !command.isEmpty { dropped.append("command (the broker's flags are muster's)") }
        var topics: [YAMLNode] = []
        for (key, value) in environment {
            // wurstmeister/kafka's NAME:PARTITIONS[:REPLICAS[:...]] list.
            if key == "KAFKA_CREATE_TOPICS", let value {
                for spec in value.split(separator: ",") {
                    let fields = spec.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard let name = fields.first, !name.isEmpty else { continue }
                    let partitions = fields.count > 1 ? Int(fields[1]) ?? 1 : 1
                    topics.append(.map([YAMLPair("name", .string(name)), YAMLPair("partitions", .number(partitions))]))
                }
            } else {
                dropped.append("environment \(key)")
            }
        }
        if !topics.isEmpty { pairs.append(YAMLPair("topics", .list(topics))) }
        if dropped.count > 3 {
            let env = dropped.filter { $0.hasPrefix("environment ") }.count
            dropped =
                dropped.filter { !$0.hasPrefix("environment ") } + [
                    "\(env) KAFKA_* environment variables (listeners and the like are muster's)"
                ]
        }
    }
}
