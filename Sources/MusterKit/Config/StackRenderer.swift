import Foundation

/// `muster config`: the resolved stack as text or JSON, secrets masked.
public struct StackRenderer {
    public let stack: StackSpec
    public let project: String?

    public init(stack: StackSpec, project: String?) {
        self.stack = stack
        self.project = project
    }

    func env(_ entries: [EnvEntry]) -> [(String, Any)] {
        entries.map { ($0.key, Secrets.display(key: $0.key, value: $0.value.description) as Any) }
    }

    func probe(_ spec: ProbeSpec?) -> Any {
        guard let spec else { return Optional<Any>.none as Any }
        var fields: [(String, Any)] = [("check", spec.kind.name), ("target", Secrets.mask(spec.kind.display))]
        fields += [("interval", DurationParser.format(spec.interval)), ("timeout", DurationParser.format(spec.timeout)),
                   ("start_timeout", DurationParser.format(spec.startTimeout)), ("failures", spec.failures)]
        return fields
    }

    func service(_ service: ServiceSpec) -> [(String, Any)] {
        var fields: [(String, Any)] = [("name", service.name)]
        if let engine = service.engine {
            fields.append(("engine", engine.kind.rawValue))
            if engine.kind == .kafka { fields.append(("implementation", engine.implementation.rawValue)) }
            if !engine.settings.isEmpty {
                fields.append(("settings", engine.settings.map { ($0.key, Secrets.display(key: $0.key, value: $0.value) as Any) }))
            }
            if !engine.databases.isEmpty { fields.append(("databases", engine.databases)) }
            if let user = engine.user { fields.append(("user", user)) }
            if engine.password != nil { fields.append(("password", Secrets.mask)) }
            if engine.kind == .postgres && !engine.template { fields.append(("template", false)) }
            if engine.kind == .postgres && engine.durability != .fast { fields.append(("durability", engine.durability.rawValue)) }
            if !engine.topics.isEmpty {
                fields.append(("topics", engine.topics.map { [("name", $0.name), ("partitions", $0.partitions)] as [(String, Any)] } as [Any]))
            }
        }
        if let command = service.command {
            switch command {
            case let .shell(template): fields.append(("command", Secrets.mask(template.description)))
            case let .exec(list): fields.append(("command", list.map { Secrets.mask($0.description) }))
            }
        }
        fields.append(("working_dir", service.workingDir))
        switch service.port {
        case let .fixed(port)?: fields.append(("port", port))
        case .auto?: fields.append(("port", "auto"))
        case nil: break
        }
        fields.append(("env", env(service.envFileValues + service.env)))
        fields.append(("depends_on", service.dependsOn.map { ($0.service, $0.condition.rawValue as Any) }))
        fields.append(("ready", probe(service.ready)))
        fields.append(("alive", probe(service.alive)))
        fields.append(("restart", service.restart.rawValue))
        fields.append(("max_restarts", service.maxRestarts.map { $0 as Any } ?? (Optional<Any>.none as Any)))
        fields.append(("stop_signal", SignalName.name(of: service.stopSignal)))
        fields.append(("stop_timeout", DurationParser.format(service.stopTimeout)))
        let logs = service.logs.resolved(over: stack.logs)
        fields.append(("logs", [("max_size", ByteSize.format(logs.maxSize)), ("max_files", logs.maxFiles)] as [(String, Any)]))
        fields.append(("optional", service.optional))
        fields.append(("task", stack.isTask(service)))
        if !service.watch.isEmpty {
            fields.append(("watch", service.watch.map { rule -> Any in
                var item: [(String, Any)] = [("path", rule.path), ("action", rule.action.name)]
                if case let .exec(command) = rule.action { item.append(("exec", Secrets.mask(command.display))) }
                if !rule.ignore.isEmpty { item.append(("ignore", rule.ignore)) }
                return item
            } as [Any]))
        }
        return fields
    }

    public func json() -> String {
        JSONText.object([
            ("name", project ?? stack.name), ("file", stack.file), ("env", env(stack.env)),
            ("services", stack.services.map { service($0) as Any }),
        ])
    }

    /// YAML-shaped text for people.
    public func text() -> String {
        var lines = ["name: \(project ?? stack.name)", "file: \(stack.file)"]
        if !stack.env.isEmpty {
            lines.append("env:")
            for (key, value) in env(stack.env) { lines.append("  \(key): \(value)") }
        }
        lines.append("services:")
        for spec in stack.services {
            lines.append("  \(spec.name):")
            for (key, value) in service(spec).dropFirst() { render(key, value, indent: 4, into: &lines) }
        }
        return lines.joined(separator: "\n")
    }

    private func render(_ key: String, _ value: Any, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case let fields as [(String, Any)]:
            if fields.isEmpty { return }
            lines.append("\(pad)\(key):")
            for (k, v) in fields { render(k, v, indent: indent + 2, into: &lines) }
        case let list as [String]:
            lines.append("\(pad)\(key): [\(list.map { JSONText.string($0) }.joined(separator: ", "))]")
        case let list as [Any]:
            lines.append("\(pad)\(key):")
            for item in list { lines.append("\(pad)  - \(JSONText.value(item))") }
        case Optional<Any>.none:
            return
        default:
            lines.append("\(pad)\(key): \(value)")
        }
    }
}
