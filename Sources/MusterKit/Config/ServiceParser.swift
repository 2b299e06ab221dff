import Foundation
import Yams

/// Turns one `services.NAME` block into a `ServiceSpec`.
struct ServiceParser {
    let reader: YAMLReader
    let directory: String
    let environment: [String: String]

    static let commonKeys = [
        "command", "working_dir", "env", "env_file", "depends_on", "ready", "alive", "restart",
        "max_restarts", "stop_signal", "stop_timeout", "optional", "port", "engine", "description",
        "profiles", "logs", "task", "watch",
    ]
    static let engineKeys = [
        "settings", "databases", "user", "password", "topics", "implementation", "bin", "template", "snapshot",
        "durability",
    ]
    static let engineKeysByKind: [EngineKind: [String]] = [
        .postgres: ["settings", "databases", "user", "password", "bin", "template", "snapshot", "durability"],
        .redis: ["settings", "password", "bin"],
        .kafka: ["topics", "implementation", "bin", "settings"],
    ]
    static let probeTimingKeys = ["interval", "timeout", "start_timeout", "failures", "identity"]
    static let kafkaProbeKeys = ["group", "topic"]
    static let dependencyKeys = ["condition"]
    static let topicKeys = ["name", "partitions", "replication_factor"]
    static let snapshotKeys = ["after", "name", "database", "spares", "key"]

    func parse(name: String, keyNode: Node, node: Node) throws -> ServiceSpec {
        let what = "service \(name)"
        let pairs = try reader.mapping(node, what: what, allowed: Self.commonKeys + Self.engineKeys)
        var service = ServiceSpec(name: name, workingDir: directory)
        service.location = reader.location(keyNode)

        if let engineNode = pairs.first(where: { $0.key == "engine" })?.value {
            let text = try reader.string(engineNode, what: "\(what).engine")
            guard let kind = EngineKind(rawValue: text) else {
                throw reader.fail(
                    "unknown engine \"\(text)\" in \(what); use postgres, redis or kafka"
                        + Suggestion.hint(for: text, in: EngineKind.allCases.map(\.rawValue)), engineNode)
            }
            service.engine = EngineOptions(kind: kind)
        }

        for pair in pairs {
            let field = "\(what).\(pair.key)"
            let value = pair.value
            switch pair.key {
            case "command": service.command = try command(value, what: field)
            case "working_dir":
                let written = try reader.string(value, what: field)
                let dir = StackLoader.resolve(written, in: directory)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
                    throw reader.fail("\(field): directory \(written) does not exist; create it or fix the path", value)
                }
                guard isDirectory.boolValue else {
                    throw reader.fail("\(field): \(written) is not a directory", value)
                }
                service.workingDir = dir
            case "env": service.env = try reader.env(value, what: field, environment: environment)
            case "env_file": service.envFileValues = try envFiles(value, what: field)
            case "depends_on": service.dependsOn = try dependencies(value, what: field)
            case "ready": service.ready = try probe(value, what: field, defaults: ProbeSpec.readyDefaults)
            case "alive": service.alive = try probe(value, what: field, defaults: ProbeSpec.aliveDefaults)
            case "restart":
                let text = try reader.string(value, what: field)
                guard let policy = RestartPolicy(rawValue: text) else {
                    throw reader.fail(
                        "\(field) must be no, on-failure or always, not \"\(text)\""
                            + Suggestion.hint(for: text, in: RestartPolicy.allCases.map(\.rawValue)), value)
                }
                service.restart = policy
            case "max_restarts": service.maxRestarts = try reader.int(value, what: field, range: 0...1_000_000)
            case "stop_signal":
                let text = try reader.string(value, what: field)
                guard let number = SignalName.parse(text) else {
                    throw reader.fail(
                        "\(field): unknown signal \"\(text)\"; use e.g. SIGTERM, SIGINT or SIGQUIT"
                            + Suggestion.hint(for: text.uppercased(), in: SignalName.table.map(\.name)), value)
                }
                service.stopSignal = number
            case "stop_timeout": service.stopTimeout = try reader.duration(value, what: field)
            case "logs": service.logs = try reader.logSettings(value, what: field)
            case "optional": service.optional = try reader.bool(value, what: field)
            case "task": service.task = try reader.bool(value, what: field)
            case "watch": service.watch = try watchRules(value, what: field, warnings: &service.watchWarnings)
            case "profiles":
                service.profiles = try reader.stringList(value, what: field).map { name, node in
                    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                        throw reader.fail("profile \"\(name)\" must be letters, digits, - _ or .", node)
                    }
                    return name
                }
            case "port":
                service.port = try port(value, what: field)
                service.portLocation = reader.location(value)
            case "engine": break
            case "description": _ = try reader.rawString(value, what: field)
            default:
                guard let engine = service.engine else {
                    throw reader.fail(
                        "\(field) only applies to engine services; add engine: postgres, redis or kafka", pair.keyNode)
                }
                guard Self.engineKeysByKind[engine.kind, default: []].contains(pair.key) else {
                    throw reader.fail("\(field) does not apply to engine \(engine.kind.rawValue)", pair.keyNode)
                }
                try engineField(pair.key, value, what: field, into: &service.engine!)
            }
        }

        if service.engine == nil && service.command == nil {
            throw reader.fail("\(what) needs a command (or an engine: postgres, redis or kafka)", keyNode)
        }
        if service.engine != nil, let commandNode = pairs.first(where: { $0.key == "command" }) {
            throw reader.fail(
                "\(what) has both engine and command; an engine service starts its own server", commandNode.keyNode)
        }
        if service.engine != nil && service.port == nil { service.port = .auto }
        try checkTask(service, pairs: pairs)
        return service
    }

    func command(_ node: Node, what: String) throws -> CommandSpec {
        switch node {
        case .scalar:
            let template = try reader.template(node, what: what)
            guard !template.description.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw reader.fail("\(what) is empty; give the program to run", node)
            }
            return .shell(template)
        default:
            let items = try reader.list(
                node, what: what, shape: "a string (run by /bin/sh -c) or a list (exec'd as is)")
            guard !items.isEmpty else { throw reader.fail("\(what) is an empty list; give the program to run", node) }
            let parts = try items.map { item in
                guard case .scalar = item else {
                    throw reader.fail(
                        "\(what) entries must be single values (one argument each), not \(reader.describe(item))", item)
                }
                return try reader.template(item, what: what)
            }
            guard !parts[0].description.isEmpty else {
                throw reader.fail("\(what) starts with an empty program name", items[0])
            }
            return .exec(parts)
        }
    }

    func envFiles(_ node: Node, what: String) throws -> [EnvEntry] {
        // One path as a plain value is compose's short form; several are a list.
        let paths: [(String, Node)]
        if case let .scalar(scalar) = node, !YAMLReader.isNull(scalar) {
            paths = [(try reader.string(node, what: what), node)]
        } else {
            paths = try reader.stringList(node, what: what)
        }
        var entries: [EnvEntry] = []
        for (path, pathNode) in paths {
            switch EnvFile.load(StackLoader.resolve(path, in: directory), display: path) {
            case let .failure(error):
                throw MusterError.invalid("\(what): \(error.message)", at: reader.location(pathNode))
            case let .success(pairs): entries += pairs.map { EnvEntry(key: $0.0, value: Template(literal: $0.1)) }
            }
        }
        return entries
    }

    func dependencies(_ node: Node, what: String) throws -> [Dependency] {
        guard case .mapping = node else {
            // `depends_on: "db: ready"` meant the mapping.
            let meant: (String) -> String? = { $0.contains(":") ? "depends_on: { \($0) }" : nil }
            return try reader.list(node, what: what, shape: "a list or a mapping", write: meant).map {
                guard case .scalar = $0 else {
                    throw reader.fail("\(what) entries must be service names, not \(reader.describe($0))", $0)
                }
                return Dependency(
                    service: try reader.rawString($0, what: what), condition: .ready, location: reader.location($0))
            }
        }
        return try reader.mapping(node, what: what).map { pair in
            var conditionNode = pair.value
            if case .mapping = pair.value {
                let inner = try reader.mapping(pair.value, what: "\(what).\(pair.key)", allowed: Self.dependencyKeys)
                guard let condition = inner.first?.value else {
                    throw reader.fail("\(what).\(pair.key) needs a condition: started, ready or completed", pair.value)
                }
                conditionNode = condition
            }
            let text = try reader.string(conditionNode, what: "\(what).\(pair.key)")
            let aliases: [String: DependencyCondition] = [
                "service_started": .started, "service_healthy": .ready, "service_completed_successfully": .completed,
                "healthy": .ready,
            ]
            guard let condition = DependencyCondition(rawValue: text) ?? aliases[text] else {
                throw reader.fail(
                    "\(what).\(pair.key) must be started, ready or completed, not \"\(text)\""
                        + Suggestion.hint(for: text, in: DependencyCondition.allCases.map(\.rawValue)), conditionNode)
            }
            return Dependency(service: pair.key, condition: condition, location: reader.location(pair.keyNode))
        }
    }

    func port(_ node: Node, what: String) throws -> PortSpec {
        let text = try reader.string(node, what: what)
        if text == "auto" { return .auto }
        guard let number = Int(text) else {
            throw reader.fail("\(what) must be a number from 1 to 65535 or \"auto\", not \"\(text)\"", node)
        }
        guard (1...65535).contains(number) else {
            throw reader.fail("\(what) must be from 1 to 65535, not \(number)", node)
        }
        return .fixed(number)
    }
}
