import Foundation
import Yams

/// What an import produced: the stack file's text and what became of each service.
public struct ImportedStack: Sendable {
    public var yaml: String
    /// Services that run as written.
    public var services: [String]
    /// Services written as commented-out placeholders that still need a command.
    public var placeholders: [String]
    /// What the user should know at once (an unset variable and where it is used).
    public var warnings: [String] = []
}

/// Turns a compose file into a muster stack. Postgres, Redis and Kafka images
/// become engines (native servers muster configures and checks itself); services
/// built from a Dockerfile or from other images become commented-out placeholders,
/// because only a person knows the command that runs them outside their image.
/// The active part must pass `muster check` as it is.
struct ComposeImporter {
    let root: Node
    let source: String
    /// The input's folder, where `.env` is found.
    var directory: String = ""
    /// The environment import runs in: unset variables and installed servers are looked up in it.
    var environment: [String: String] = [:]

    /// A compose service recognised as an engine.
    struct Engine {
        var name: String
        var kind: EngineKind
        var implementation: KafkaImplementation
        var containerPort: Int
    }

    /// Keys the conversion reads; the rest are listed as not carried over.
    static let handledKeys: Set<String> = [
        "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "depends_on", "healthcheck",
        "restart", "stop_signal", "stop_grace_period", "container_name", "expose", "hostname", "logging", "develop",
    ]

    var composeServices: [(key: String, value: Node)] { ComposeValues.pairs(ComposeValues.value(root, "services")) }

    /// Compose allows `.` in names; muster takes letters, digits, `-` and `_`.
    static func musterName(_ name: String) -> String {
        let mapped = String(
            name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? $0 : "-" })
        let trimmed = String(mapped.drop { $0 == "-" }.prefix(63))
        return trimmed.isEmpty ? "service" : trimmed
    }

    func engines() -> [String: Engine] {
        var found: [String: Engine] = [:]
        for (name, service) in composeServices {
            guard let image = ComposeValues.string(ComposeValues.value(service, "image")),
                let match = EngineImage.recognize(image)
            else { continue }
            let target = ComposeValues.ports(ComposeValues.value(service, "ports")).first?.target
            found[name] = Engine(
                name: Self.musterName(name), kind: match.kind, implementation: match.implementation,
                containerPort: target ?? EngineImage.defaultPort(match.kind))
        }
        return found
    }

    func convert() -> ImportedStack {
        let engines = engines()
        let names = Dictionary(
            composeServices.map { ($0.key, Self.musterName($0.key)) }, uniquingKeysWith: { a, _ in a })
        var lines = [
            "# Imported by `muster import` from \(source).",
            "# Engines (Postgres, Redis, Kafka) run as native servers that muster configures and checks;",
            "# their outputs (${db.url}, ${cache.url}, ${bus.bootstrap}: see `muster env`) replace hand-written URLs.",
            "# Check it with `muster check`, start it with `muster up`.",
        ]
        let otherKeys = ComposeValues.pairs(root).map(\.key).filter {
            !["services", "name", "version", "include"].contains($0) && !$0.hasPrefix("x-")
        }
        if !otherKeys.isEmpty {
            lines.append(
                "# Not carried over: top-level \(otherKeys.joined(separator: ", ")) (no containers, so no networks or volumes)."
            )
        }
        let warnings = unsetVariables()
        lines += warnings.map { "# Warning: " + $0 + "." }
        if let name = ComposeValues.string(ComposeValues.value(root, "name")) {
            lines += YAMLText.lines([YAMLPair("name", .string(Self.musterName(name).lowercased()))])
        }
        if !directory.isEmpty, FileManager.default.fileExists(atPath: directory + "/.env") {
            lines += YAMLText.lines([YAMLPair("env_file", .string(".env"), trailing: "compose read it for ${VAR}s too")]
            )
        }
        lines.append("")
        lines.append("services:")
        var active: [String] = [], placeholders: [String] = []
        for (index, (composeName, service)) in composeServices.enumerated() {
            if index > 0 { lines.append("") }
            let name = names[composeName] ?? composeName
            if let zookeeper = zookeeperNote(composeName, service: service) {
                lines += zookeeper
            } else if let engine = engines[composeName] {
                lines += YAMLText.lines(
                    [engineService(engine, composeName: composeName, service: service, engines: engines, names: names)],
                    indent: 2)
                active.append(name)
            } else {
                lines += placeholder(
                    name: name, composeName: composeName, service: service, engines: engines, names: names)
                placeholders.append(name)
            }
        }
        if active.isEmpty {
            lines.append(
                "  # Nothing is runnable yet: no service of \(source) maps to an engine, so every one above is a")
            lines.append(
                "  # placeholder. Uncomment one and set its command: (what runs it on this machine), then `muster check`."
            )
        }
        return ImportedStack(
            yaml: lines.joined(separator: "\n") + "\n", services: active, placeholders: placeholders, warnings: warnings
        )
    }

    func engineService(
        _ engine: Engine, composeName: String, service: Node, engines: [String: Engine],
        names: [String: String]
    ) -> YAMLPair {
        let image = ComposeValues.string(ComposeValues.value(service, "image")) ?? ""
        var notes = ["from image \(image): muster runs the \(engine.kind.rawValue) server installed on this machine"]
        if ComposeValues.value(service, "build") != nil {
            notes.append("the image was built from a Dockerfile: install what it added (extensions, modules) here")
        }
        let fields = ComposeEngineFields(kind: engine.kind, service: service)
        var pairs = [YAMLPair("engine", .string(engine.kind.rawValue))]
        if engine.implementation != .auto {
            pairs.append(YAMLPair("implementation", .string(engine.implementation.rawValue)))
        }
        let published = ComposeValues.ports(ComposeValues.value(service, "ports")).first { $0.published != nil }?
            .published
        pairs.append(
            YAMLPair(
                "port", published.map(Self.portNode) ?? .string("auto"),
                trailing: published == nil ? "not published in compose: muster picks a free port" : nil))
        let server = redisServer(image: image)
        pairs += server.pairs
        notes += server.notes
        pairs += fields.pairs
        let dependencies = dependsOn(
            service, of: composeName, active: Set(engines.keys), names: names, engines: engines)
        pairs += dependencies.pairs
        pairs += lifecycle(service)
        var dropped = fields.dropped + dependencies.dropped
        if ComposeValues.value(service, "healthcheck") != nil {
            notes.append(
                "healthcheck dropped: muster's own \(engine.kind.rawValue) check (a real protocol request) decides readiness"
            )
        }
        dropped += unhandledKeys(service)
        if !dropped.isEmpty { notes.append("not carried over: " + dropped.joined(separator: ", ")) }
        pairs[0].comments = notes
        return YAMLPair(engine.name, .map(pairs))
    }

    /// A published port is a number, or a `${VAR:-8000}` muster interpolates the same way.
    static func portNode(_ text: String) -> YAMLNode {
        Int(text).map { .number($0) } ?? .string(text)
    }

    func placeholder(
        name: String, composeName: String, service: Node, engines: [String: Engine],
        names: [String: String]
    ) -> [String] {
        var header: [String]
        if let build = ComposeValues.value(service, "build") {
            let context =
                ComposeValues.string(build) ?? ComposeValues.string(ComposeValues.value(build, "context")) ?? "."
            header = [
                "\(name): built from a Dockerfile (build: \(context)); muster runs programs natively, not images."
            ]
        } else if let image = ComposeValues.string(ComposeValues.value(service, "image")) {
            header = ["\(name): image \(image) is not one muster knows (postgres, redis, kafka images become engines)."]
        } else {
            header = ["\(name): has neither image nor build."]
        }
        header.append("To run it, uncomment the block and set command: to what the image runs (its Dockerfile's")
        header.append("CMD/ENTRYPOINT), with paths on this machine; then `muster check`.")
        var pairs: [YAMLPair] = []
        let entrypoint = ComposeValues.words(ComposeValues.value(service, "entrypoint")) ?? []
        let commandNode = ComposeValues.value(service, "command")
        if entrypoint.isEmpty, let text = ComposeValues.string(commandNode) {
            pairs.append(YAMLPair("command", .string(text), trailing: "from compose, where it ran inside the image"))
        } else if let words = ComposeValues.words(commandNode).map({ entrypoint + $0 })
            ?? (entrypoint.isEmpty ? nil : entrypoint)
        {
            pairs.append(
                YAMLPair(
                    "command", .flow(words.map { .string($0) }), trailing: "from compose, where it ran inside the image"
                ))
        } else {
            pairs.append(YAMLPair("command", .string("TODO: the command that runs \(name)"), trailing: "TODO"))
        }
        if let port = ComposeValues.ports(ComposeValues.value(service, "ports")).first(where: { $0.published != nil }),
            let published = port.published
        {
            let differs = port.target.map { String($0) != published } ?? false
            pairs.append(
                YAMLPair(
                    "port", Self.portNode(published),
                    trailing: differs ? "in its container it listened on \(port.target!)" : nil))
        }
        let environment = ComposeValues.environment(ComposeValues.value(service, "environment"))
        if !environment.isEmpty {
            pairs.append(
                YAMLPair(
                    "env",
                    .map(
                        environment.map { key, value in
                            // `KEY` alone passes the host's value through; `${KEY}` says the same to muster.
                            YAMLPair(key, .string(value.map { Self.rewriteHosts($0, engines: engines) } ?? "${\(key)}"))
                        })))
        }
        if let envFile = ComposeValues.value(service, "env_file") {
            let paths =
                ComposeValues.string(envFile).map { [$0] }
                ?? ComposeValues.strings(envFile)
                ?? {
                    if case let .sequence(items) = envFile {
                        return items.compactMap { ComposeValues.string(ComposeValues.value($0, "path")) }
                    }; return []
                }()
            if !paths.isEmpty { pairs.append(YAMLPair("env_file", .flow(paths.map { .string($0) }))) }
        }
        pairs +=
            dependsOn(service, of: composeName, active: Set(composeServices.map(\.key)), names: names, engines: engines)
            .pairs
        if let probe = ComposeHealthcheck.probe(ComposeValues.value(service, "healthcheck")) {
            pairs.append(YAMLPair("ready", probe))
        }
        pairs += lifecycle(service)
        if isTask(composeName, service) {
            pairs.append(
                YAMLPair(
                    "task", .bool(true),
                    trailing: ComposeValues.value(service, "x-muster-task") != nil
                        ? "x-muster-task" : "runs once; others wait for it with service_completed_successfully"))
        }
        let watch = ComposeWatch.importRules(service)
        if let rules = watch.rules { pairs.append(rules) }
        header += watch.notes
        let dropped =
            unhandledKeys(service)
            + (ComposeValues.value(service, "working_dir") == nil ? [] : ["working_dir (a path in the image)"])
        if !dropped.isEmpty { header.append("Not carried over: " + dropped.joined(separator: ", ") + ".") }
        return header.map { "  # " + $0 } + YAMLText.commentedOut([YAMLPair(name, .map(pairs))], indent: 2)
    }

    /// A one-shot: another service waits for it with `service_completed_successfully`,
    /// it runs once (`restart` absent, `no` or `on-failure`) and has no healthcheck
    /// (a task is ready when it completes); or muster's own export marked it
    /// (`x-muster-task: true`).
    func isTask(_ composeName: String, _ service: Node) -> Bool {
        if ComposeValues.string(ComposeValues.value(service, "x-muster-task")) == "true" { return true }
        guard ComposeValues.value(service, "healthcheck") == nil else { return false }
        let waitedFor = composeServices.contains { _, other in
            ComposeValues.dependencies(ComposeValues.value(other, "depends_on")).contains {
                $0.service == composeName && $0.condition == "service_completed_successfully"
            }
        }
        let restart = ComposeValues.string(ComposeValues.value(service, "restart")) ?? "no"
        return waitedFor && (restart == "no" || restart.hasPrefix("on-failure"))
    }

    func unhandledKeys(_ service: Node) -> [String] {
        ComposeValues.pairs(service).map(\.key).filter {
            !Self.handledKeys.contains($0) && $0 != "working_dir" && !$0.hasPrefix("x-")
        }
    }

    /// `depends_on` with compose's conditions in muster's words. Compose's plain list
    /// means `service_started`; for an engine muster waits until it is `ready`, which
    /// costs nothing and spares the app connection retries.
    func dependsOn(
        _ service: Node, of composeName: String, active: Set<String>, names: [String: String],
        engines: [String: Engine]
    ) -> (pairs: [YAMLPair], dropped: [String]) {
        var entries: [YAMLPair] = [], dropped: [String] = []
        for (target, condition) in ComposeValues.dependencies(ComposeValues.value(service, "depends_on")) {
            if isZookeeper(target) {
                // muster's Kafka needs no ZooKeeper: wait for the broker instead.
                if let broker = broker(), broker.key != composeName, let name = names[broker.key],
                    !entries.contains(where: { $0.key == name })
                {
                    entries.append(
                        YAMLPair(name, .string("ready"), trailing: "instead of \(target) (ZooKeeper), dropped"))
                }
                continue
            }
            guard active.contains(target), let name = names[target] else {
                dropped.append("depends_on \(target) (not an engine here)")
                continue
            }
            switch condition {
            case "service_healthy": entries.append(YAMLPair(name, .string("ready")))
            case "service_completed_successfully" where engines[target] != nil:
                // muster's engine is a server: it never completes, it is ready.
                entries.append(
                    YAMLPair(
                        name, .string("ready"),
                        trailing: "compose: service_completed_successfully; muster runs \(target) as a server"))
            case "service_completed_successfully": entries.append(YAMLPair(name, .string("completed")))
            default:
                if engines[target] != nil {
                    entries.append(YAMLPair(name, .string("ready"), trailing: "compose: service_started"))
                } else {
                    entries.append(YAMLPair(name, .string("started")))
                }
            }
        }
        return (entries.isEmpty ? [] : [YAMLPair("depends_on", .map(entries))], dropped)
    }

    /// `restart`, `stop_signal` and `stop_grace_period` where muster has the same idea.
    func lifecycle(_ service: Node) -> [YAMLPair] {
        var pairs: [YAMLPair] = []
        if let restart = ComposeValues.string(ComposeValues.value(service, "restart")) {
            let parts = restart.split(separator: ":", maxSplits: 1).map(String.init)
            switch parts.first {
            case "always", "unless-stopped": pairs.append(YAMLPair("restart", .string("always")))
            case "on-failure":
                pairs.append(YAMLPair("restart", .string("on-failure")))
                if parts.count == 2, let limit = Int(parts[1]) {
                    pairs.append(YAMLPair("max_restarts", .number(limit)))
                }
            default: break
            }
        }
        if let signal = ComposeValues.string(ComposeValues.value(service, "stop_signal")),
            SignalName.parse(signal) != nil
        {
            pairs.append(YAMLPair("stop_signal", .string(signal)))
        }
        if let grace = ComposeValues.duration(ComposeValues.value(service, "stop_grace_period")) {
            pairs.append(YAMLPair("stop_timeout", .string(grace.text)))
        }
        // logging.options: docker's max-file counts the live file, muster's max_files the rotated ones.
        let options = ComposeValues.value(ComposeValues.value(service, "logging"), "options")
        var logs: [YAMLPair] = []
        if let size = ComposeValues.string(ComposeValues.value(options, "max-size")), let bytes = ByteSize.parse(size) {
            logs.append(YAMLPair("max_size", .string(ByteSize.format(max(bytes, 1024)))))
        }
        if let files = ComposeValues.string(ComposeValues.value(options, "max-file")).flatMap({ Int($0) }), files >= 1 {
            logs.append(YAMLPair("max_files", .number(min(files - 1, 100))))
        }
        if !logs.isEmpty { pairs.append(YAMLPair("logs", .map(logs))) }
        return pairs
    }

    /// Compose hostnames (`db:5432`, `@db/app`, `redis://cache`) in an environment
    /// value become the engine's outputs, since natively nothing resolves `db`.
    static func rewriteHosts(_ value: String, engines: [String: Engine]) -> String {
        var result = value
        for (composeName, engine) in engines.sorted(by: { $0.key.count > $1.key.count }) {
            let host = NSRegularExpression.escapedPattern(for: composeName)
            let replacement = "\\${\(engine.name).host}:\\${\(engine.name).port}"
            for pattern in [
                "(?<![A-Za-z0-9_.-])\(host):\(engine.containerPort)(?![0-9])", "(?<=@|//)\(host)(?=[/?]|$)",
                "^\(host)$",
            ] {
                guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
                let template = pattern == "^\(host)$" ? "\\${\(engine.name).host}" : replacement
                result = regex.stringByReplacingMatches(
                    in: result, range: NSRange(result.startIndex..., in: result), withTemplate: template)
            }
        }
        return result
    }
}
