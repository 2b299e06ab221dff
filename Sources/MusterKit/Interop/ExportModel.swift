import Foundation

/// What a muster stack becomes in a container world (compose or Kubernetes), shared
/// by both exporters: each service is reached by its name on the image's standard
/// port, engines become their official images with the same settings, and
/// `${service.output}` references resolve to those names and ports.
struct ExportModel {
    let stack: StackSpec
    /// Turns a service name into the hostname other containers use.
    let hostname: (String) -> String

    static let postgresImage = "postgres:15"
    static let redisImage = "redis:7"
    static let kafkaImage = "apache/kafka:latest"
    static let kafkaScripts = "/opt/kafka/bin"
    /// Where an app whose stack says `port: auto` listens in its container (each has its own network).
    static let appPort = 8080

    /// The port a service listens on inside its container: the image's standard
    /// port for engines, the declared one (or 8080 for `auto`) for apps.
    func containerPort(_ service: ServiceSpec) -> Int? {
        if let engine = service.engine { return EngineImage.defaultPort(engine.kind) }
        switch service.port {
        case let .fixed(port)?: return port
        case .auto?: return Self.appPort
        case nil: return nil
        }
    }

    /// The outputs of SPEC "Outputs", as seen from another container.
    func outputs(_ service: ServiceSpec) -> [String: String] {
        let host = hostname(service.name)
        var values = ["host": host]
        if let port = containerPort(service) { values["port"] = String(port) }
        guard let engine = service.engine, let port = containerPort(service) else { return values }
        switch engine.kind {
        case .postgres:
            let user = engine.user ?? "postgres", password = engine.password ?? "", database = postgresDatabase(engine)
            let auth = password.isEmpty ? percentEncoded(user) : "\(percentEncoded(user)):\(percentEncoded(password))"
            values.merge([
                "user": user, "password": password, "database": database,
                "url": "postgresql://\(auth)@\(host):\(port)/\(percentEncoded(database))",
            ]) { $1 }
        case .redis:
            let auth = engine.password.map { ":\(percentEncoded($0))@" } ?? ""
            values["url"] = "redis://\(auth)\(host):\(port)/0"
        case .kafka:
            values["bootstrap"] = "\(host):\(port)"
        }
        return values
    }

    func postgresDatabase(_ engine: EngineOptions) -> String { engine.databases.first ?? "postgres" }

    func resolve(_ template: Template) -> String {
        template.resolve { service, output in stack.service(named: service).flatMap { outputs($0)[output] } }
    }

    /// Tasks: `task: true`, or services another one waits for with `completed`. They
    /// run once (compose `restart: "no"`, a Kubernetes Job).
    func isTask(_ service: ServiceSpec) -> Bool {
        stack.isTask(service)
    }

    /// The environment muster would give an app: the stack's, the service's env_file
    /// and env, then PORT when it declares one. Engines get only their own env.
    func environment(_ service: ServiceSpec) -> [(key: String, value: String)] {
        let entries = (service.engine == nil ? stack.env : []) + service.envFileValues + service.env
        var result: [(key: String, value: String)] = []
        for entry in entries {
            let value = resolve(entry.value)
            if let index = result.firstIndex(where: { $0.key == entry.key }) {
                result[index].value = value
            } else {
                result.append((entry.key, value))
            }
        }
        if service.engine == nil, let port = containerPort(service) {
            result.removeAll { $0.key == "PORT" }
            result.append(("PORT", String(port)))
        }
        return result
    }

    /// An app's argv: a string command runs under /bin/sh -c, as muster runs it.
    func command(_ service: ServiceSpec) -> [String]? {
        service.command.map { $0.argv { name, output in stack.service(named: name).flatMap { outputs($0)[output] } } }
    }

    // MARK: engines

    func image(_ engine: EngineOptions) -> String {
        switch engine.kind {
        case .postgres: return Self.postgresImage
        case .redis: return Self.redisImage
        case .kafka: return Self.kafkaImage
        }
    }

    /// The server's command line in the official image (its CMD, replaced).
    func engineArguments(_ engine: EngineOptions) -> [String]? {
        switch engine.kind {
        case .postgres:
            var settings = engine.settings
            if !settings.contains(where: { $0.key == "max_connections" }) {
                settings.insert(("max_connections", "200"), at: 0)
            }
            return ["postgres"] + settings.flatMap { ["-c", "\($0.key)=\($0.value)"] }
        case .redis:
            var argv = ["redis-server", "--save", "", "--appendonly", "no"]
            if let password = engine.password { argv += ["--requirepass", password] }
            for (key, value) in engine.settings { argv += ["--" + key, value] }
            return argv
        case .kafka:
            return nil
        }
    }

    /// The image's environment: Postgres's POSTGRES_* or a single-node KRaft broker's
    /// KAFKA_* (all of them: once one is set, apache/kafka uses no defaults).
    func engineEnvironment(_ service: ServiceSpec, hostListener: Int? = nil) -> [(key: String, value: String)] {
        guard let engine = service.engine else { return [] }
        switch engine.kind {
        case .postgres:
            var env: [(key: String, value: String)] = []
            if let user = engine.user { env.append(("POSTGRES_USER", user)) }
            if let password = engine.password {
                env.append(("POSTGRES_PASSWORD", password))
            } else {
                env.append(("POSTGRES_HOST_AUTH_METHOD", "trust"))
            }
            env.append(("POSTGRES_DB", postgresDatabase(engine)))
            return env
        case .redis:
            return []
        case .kafka:
            let host = hostname(service.name), port = EngineImage.defaultPort(.kafka)
            var listeners = "PLAINTEXT://:\(port),CONTROLLER://:9093"
            var advertised = "PLAINTEXT://\(host):\(port)"
            var protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
            if let hostListener {
                listeners += ",HOST://:\(Self.kafkaHostListenerPort)"
                advertised += ",HOST://localhost:\(hostListener)"
                protocols += ",HOST:PLAINTEXT"
            }
            var env: [(key: String, value: String)] = [
                ("KAFKA_NODE_ID", "1"), ("KAFKA_PROCESS_ROLES", "broker,controller"),
                ("KAFKA_LISTENERS", listeners), ("KAFKA_ADVERTISED_LISTENERS", advertised),
                ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"), ("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT"),
                ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", protocols),
                ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093"),
                ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
                ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"), ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
                ("KAFKA_NUM_PARTITIONS", "1"), ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
            ]
            for (key, value) in engine.settings {
                let name = Self.kafkaEnvName(key)
                if let index = env.firstIndex(where: { $0.key == name }) {
                    env[index].value = value
                } else {
                    env.append((name, value))
                }
            }
            return env
        }
    }

    /// The container port of the listener advertised as localhost:PORT for clients on the host.
    static let kafkaHostListenerPort = 29092

    /// apache/kafka's rule for server.properties keys: `.` → `_`, `_` → `__`, `-` → `___`.
    static func kafkaEnvName(_ key: String) -> String {
        "KAFKA_"
            + key.replacingOccurrences(of: "_", with: "__").replacingOccurrences(of: "-", with: "___")
            .replacingOccurrences(of: ".", with: "_").uppercased()
    }

    /// SQL that creates the databases after the first (the image creates POSTGRES_DB itself).
    func initSQL(_ engine: EngineOptions) -> String? {
        let extra = engine.databases.dropFirst()
        guard engine.kind == .postgres, !extra.isEmpty else { return nil }
        let owner = engine.user.map { " OWNER " + sqlIdentifier($0) } ?? ""
        return "-- The databases after the first; POSTGRES_DB is created by the image.\n"
            + extra.map { "CREATE DATABASE \(sqlIdentifier($0))\(owner);\n" }.joined()
    }

    func sqlIdentifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// A shell line that creates every declared topic, once the broker answers.
    func topicScript(_ service: ServiceSpec) -> String? {
        guard let engine = service.engine, engine.kind == .kafka, !engine.topics.isEmpty else { return nil }
        let bootstrap = "\(hostname(service.name)):\(EngineImage.defaultPort(.kafka))"
        return engine.topics.map {
            "\(Self.kafkaScripts)/kafka-topics.sh --bootstrap-server \(bootstrap) --create --if-not-exists --topic \(shellQuoted($0.name)) --partitions \($0.partitions) --replication-factor 1"
        }.joined(separator: " && ")
    }

    /// The name of the one-shot service or Job that creates a broker's topics.
    func topicsJobName(_ service: ServiceSpec) -> String? {
        topicScript(service) == nil ? nil : hostname(service.name) + "-topics"
    }
}

/// Single-quoted for /bin/sh, whatever the text holds.
func shellQuoted(_ text: String) -> String {
    if !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=@,+".contains($0)) }) {
        return text
    }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
