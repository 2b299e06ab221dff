import Foundation

/// `muster config`: the resolved stack as text or JSON, secrets masked.
public struct StackRenderer {
    public let stack: StackSpec
    public let project: String?

    public init(stack: StackSpec, project: String?) {
        self.stack = stack
        self.project = project
    }

    func env(_ entries: [EnvEntry]) -> JSONValue {
        .object(entries.map { .init($0.key, .string(Secrets.display(key: $0.key, value: $0.value.description))) })
    }

    func probe(_ spec: ProbeSpec?) -> JSONValue {
        guard let spec else { return .null }
        return [
            "check": .string(spec.kind.name), "target": .string(Secrets.mask(spec.kind.display)),
            "interval": .string(DurationParser.format(spec.interval)),
            "timeout": .string(DurationParser.format(spec.timeout)),
            "start_timeout": .string(DurationParser.format(spec.startTimeout)), "failures": .int(spec.failures),
        ]
    }

    static func strings(_ list: [String]) -> JSONValue { .array(list.map(JSONValue.string)) }

    func service(_ service: ServiceSpec) -> [JSONValue.Member] {
        var fields: [JSONValue.Member] = [.init("name", .string(service.name))]
        func add(_ key: String, _ value: JSONValue) { fields.append(.init(key, value)) }
        if let engine = service.engine {
            add("engine", .string(engine.kind.rawValue))
            if engine.kind == .kafka { add("implementation", .string(engine.implementation.rawValue)) }
            if !engine.settings.isEmpty {
                add(
                    "settings",
                    .object(
                        engine.settings.map { .init($0.key, .string(Secrets.display(key: $0.key, value: $0.value))) }))
            }
            if !engine.databases.isEmpty { add("databases", Self.strings(engine.databases)) }
            if let user = engine.user { add("user", .string(user)) }
            if engine.password != nil { add("password", .string(Secrets.mask)) }
            if engine.kind == .postgres && !engine.template { add("template", false) }
            if engine.kind == .postgres && engine.durability != .fast {
                add("durability", .string(engine.durability.rawValue))
            }
            if !engine.topics.isEmpty {
                add(
                    "topics",
                    .array(engine.topics.map { ["name": .string($0.name), "partitions": .int($0.partitions)] }))
            }
        }
        if let command = service.command {
            switch command {
            case let .shell(template): add("command", .string(Secrets.mask(template.description)))
            case let .exec(list): add("command", Self.strings(list.map { Secrets.mask($0.description) }))
            }
        }
        add("working_dir", .string(service.workingDir))
        switch service.port {
        case let .fixed(port)?: add("port", .int(Int(port)))
        case .auto?: add("port", "auto")
        case nil: break
        }
        add("env", env(service.envFileValues + service.env))
        add("depends_on", .object(service.dependsOn.map { .init($0.service, .string($0.condition.rawValue)) }))
        add("ready", probe(service.ready))
        add("alive", probe(service.alive))
        add("restart", .string(service.restart.rawValue))
        add("max_restarts", service.maxRestarts.map { .int($0) } ?? .null)
        add("stop_signal", .string(SignalName.name(of: service.stopSignal)))
        add("stop_timeout", .string(DurationParser.format(service.stopTimeout)))
        let logs = service.logs.resolved(over: stack.logs)
        add("logs", ["max_size": .string(ByteSize.format(logs.maxSize)), "max_files": .int(logs.maxFiles)])
        add("optional", .bool(service.optional))
        add("task", .bool(stack.isTask(service)))
        if !service.watch.isEmpty {
            add(
                "watch",
                .array(
                    service.watch.map { rule in
                        var item: JSONValue = ["path": .string(rule.path), "action": .string(rule.action.name)]
                        if case let .exec(command) = rule.action {
                            item["exec"] = .string(Secrets.mask(command.display))
                        }
                        if !rule.ignore.isEmpty { item["ignore"] = Self.strings(rule.ignore) }
                        return item
                    }))
        }
        return fields
    }

    public func json() -> String {
        let root: JSONValue = [
            "name": .string(project ?? stack.name), "file": .string(stack.file), "env": env(stack.env),
            "services": .array(stack.services.map { .object(service($0)) }),
        ]
        return root.text
    }

    /// YAML-shaped text for people.
    public func text() -> String {
        var lines = ["name: \(project ?? stack.name)", "file: \(stack.file)"]
        if !stack.env.isEmpty {
            lines.append("env:")
            for entry in env(stack.env).objectMembers ?? [] { render(entry.key, entry.value, indent: 2, into: &lines) }
        }
        lines.append("services:")
        for spec in stack.services {
            lines.append("  \(spec.name):")
            for field in service(spec).dropFirst() { render(field.key, field.value, indent: 4, into: &lines) }
        }
        return lines.joined(separator: "\n")
    }

    /// Nested fields indented, a list of texts on one line, other lists one item (as JSON) a line, nothing for null.
    private func render(_ key: String, _ value: JSONValue, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case let .object(fields):
            if fields.isEmpty { return }
            lines.append("\(pad)\(key):")
            for field in fields { render(field.key, field.value, indent: indent + 2, into: &lines) }
        case let .array(list) where list.allSatisfy({ $0.stringValue != nil }):
            lines.append("\(pad)\(key): [\(list.map(\.text).joined(separator: ", "))]")
        case let .array(list):
            lines.append("\(pad)\(key):")
            for item in list { lines.append("\(pad)  - \(item.text)") }
        case .null:
            return
        case let .string(text):
            lines.append("\(pad)\(key): \(text)")
        default:
            lines.append("\(pad)\(key): \(value.text)")
        }
    }
}
