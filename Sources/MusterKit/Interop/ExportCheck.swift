import Foundation

/// A muster probe as a container runtime can run it: from inside the container,
/// by URL, TCP port or command. Probes that watch muster's own view of a process
/// (log lines, `READY=1`, a consumer group's assignment) have no such form.
enum ExportCheck {
    case http(URL)
    case tcp(host: String, port: Int)
    case exec([String])
    case shell(String)
    case unsupported(String)

    /// The check for a service: its `ready` probe, else its `alive` probe, else an
    /// engine's own protocol check (muster gives every engine one).
    static func primary(for service: ServiceSpec, in model: ExportModel) -> (check: ExportCheck, spec: ProbeSpec)? {
        if let spec = service.ready ?? service.alive {
            return (check(spec.kind, service: service, model: model), spec)
        }
        guard let engine = service.engine else { return nil }
        let kind: ProbeSpec.Kind
        switch engine.kind {
        case .postgres: kind = .postgres
        case .redis: kind = .redis
        case .kafka: kind = .kafka(group: nil, topic: nil)
        }
        return (check(kind, service: service, model: model), .readyDefaults(kind))
    }

    static func check(_ kind: ProbeSpec.Kind, service: ServiceSpec, model: ExportModel) -> ExportCheck {
        switch kind {
        case let .http(template):
            guard let url = URL(string: model.resolve(template)), url.host != nil else {
                return .unsupported("an http probe with no valid URL")
            }
            return .http(url)
        case let .tcp(template):
            let target = model.resolve(template)
            guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]) else {
                return .unsupported("a tcp probe of \(target)")
            }
            return .tcp(host: String(target[..<colon]), port: port)
        case .exec:
            guard let argv = execArgv(kind, model: model), !argv.isEmpty else {
                return .unsupported("an exec probe")
            }
            return argv.count == 3 && argv[0] == "/bin/sh" && argv[1] == "-c" ? .shell(argv[2]) : .exec(argv)
        case .postgres:
            let engine = service.engine ?? EngineOptions(kind: .postgres)
            return .exec([
                "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", engine.user ?? "postgres", "-d",
                model.postgresDatabase(engine),
            ])
        case .redis:
            let auth = service.engine?.password.map { "-a \(shellQuoted($0)) --no-auth-warning " } ?? ""
            return .shell("redis-cli \(auth)ping | grep -q PONG")
        case let .kafka(group, _):
            if service.engine?.kind == .kafka {
                return .exec([
                    "\(ExportModel.kafkaScripts)/kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--list",
                ])
            }
            return .unsupported("a kafka consumer-group probe (group \(group ?? "?"))")
        case let .log(pattern):
            return .unsupported("a log probe (/\(pattern)/)")
        case .notify:
            return .unsupported("a notify probe (READY=1 on $NOTIFY_SOCKET)")
        }
    }

    static func execArgv(_ kind: ProbeSpec.Kind, model: ExportModel) -> [String]? {
        guard case let .exec(command) = kind else { return nil }
        return command.argv { name, output in model.stack.service(named: name).flatMap { model.outputs($0)[output] } }
    }

    /// True when the URL or address points at the container itself.
    static func isLocal(_ host: String, service: ServiceSpec, model: ExportModel) -> Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", model.hostname(service.name)].contains(host)
    }

    /// The same check as one shell line, for runtimes that only run commands.
    var shellLine: String? {
        switch self {
        case let .http(url):
            let quoted = shellQuoted(url.absoluteString)
            return "curl -fsS -o /dev/null \(quoted) || wget -q -O /dev/null \(quoted)"
        case let .tcp(host, port): return "nc -z -w 2 \(shellQuoted(host)) \(port)"
        case let .exec(argv): return argv.map(shellQuoted).joined(separator: " ")
        case let .shell(line): return line
        case .unsupported: return nil
        }
    }

    var unsupportedReason: String? {
        if case let .unsupported(reason) = self { return reason }
        return nil
    }
}

/// Go-style durations (`1s`, `500ms`, `1m30s`) as compose reads them.
func goDuration(_ duration: Duration) -> String {
    let ms = max(0, duration.milliseconds)
    if ms % 1000 != 0 { return "\(ms)ms" }
    let seconds = ms / 1000
    if seconds >= 60 && seconds % 60 == 0 { return "\(seconds / 60)m" }
    if seconds >= 60 { return "\(seconds / 60)m\(seconds % 60)s" }
    return "\(seconds)s"
}

/// Whole seconds, rounded up, at least `minimum` (Kubernetes probe fields are integers).
func wholeSeconds(_ duration: Duration, minimum: Int = 1) -> Int {
    max(minimum, Int((Double(duration.milliseconds) / 1000).rounded(.up)))
}
