import Foundation

/// Turns a validated stack into runnable plans: chooses ports, asks engines for
/// their commands and probes, and resolves every `${service.output}`.
public struct StackPlanner {
    public let stack: StackSpec
    public let paths: ProjectPaths
    public var environment: [String: String]
    /// Whose turns the keyed snapshot steps take (`StackPlanner+Keys.swift`): the
    /// running stack's, which orders `muster db` too.
    public var desk: DatabaseDesk

    public init(
        stack: StackSpec, paths: ProjectPaths, environment: [String: String] = ProcessInfo.processInfo.environment,
        desk: DatabaseDesk? = nil
    ) {
        self.stack = stack
        self.paths = paths
        self.environment = environment
        self.desk = desk ?? DatabaseDesk(stack: stack, paths: paths, outputs: [:])
    }

    /// Ports for every service of `names` that declares one. Fixed ports of the
    /// services in `checking` must be free; `auto` ports avoid `avoiding` (ports
    /// other projects hold) and reuse the previous run's port when it is free.
    public func choosePorts(
        for names: Set<String>, checking: Set<String>? = nil, reuse previous: [String: Int] = [:],
        avoiding: Set<Int> = []
    ) throws -> [String: Int] {
        var ports: [String: Int] = [:]
        for service in stack.services where names.contains(service.name) {
            switch service.port {
            case let .fixed(port)?:
                guard !(checking ?? names).contains(service.name) || PortPreflight.isFree(port) else {
                    throw MusterError(
                        .portInUse,
                        "service \(service.name) cannot start: \(PortPreflight.describeHolder(of: port)); stop it or change the port",
                        at: service.location)
                }
                ports[service.name] = port
            case .auto?:
                if let old = previous[service.name], !avoiding.contains(old), !ports.values.contains(old),
                    PortPreflight.isFree(old)
                {
                    ports[service.name] = old
                } else {
                    ports[service.name] = try PortPreflight.freePort(avoiding: avoiding.union(ports.values))
                }
            case nil: continue
            }
        }
        return ports
    }

    /// Every service's outputs, given the chosen ports.
    public func outputs(ports: [String: Int]) -> [String: [String: String]] {
        var all: [String: [String: String]] = [:]
        for service in stack.services {
            guard let port = ports[service.name] else { continue }
            if let engine = service.engine {
                all[service.name] = EngineCatalog.engine(for: engine.kind).outputs(
                    service: service, engine: engine, port: port)
            } else {
                all[service.name] = ["host": "127.0.0.1", "port": String(port)]
            }
        }
        return all
    }

    public func plans(for names: Set<String>, ports: [String: Int]) throws -> [ServicePlan] {
        let outputs = outputs(ports: ports)
        let lookup: (String, String) -> String? = { outputs[$0]?[$1] }
        return try stack.services.filter { names.contains($0.name) }.map { service in
            try plan(service, port: ports[service.name], lookup: lookup, outputs: outputs[service.name] ?? [:])
        }
    }

    func plan(
        _ service: ServiceSpec, port: Int?, lookup: @escaping (String, String) -> String?,
        outputs: [String: String]
    ) throws -> ServicePlan {
        var env = environment
        for entry in stack.env + service.envFileValues + service.env { env[entry.key] = entry.value.resolve(lookup) }
        env["MUSTER_PROJECT"] = paths.project
        env["MUSTER_SERVICE"] = service.name
        if let port { env["PORT"] = String(port) }

        var plan = ServicePlan(
            name: service.name, executable: "", argv: [], environment: env, workingDir: service.workingDir,
            credentials: nil, ready: nil, alive: nil,
            policy: ServiceLifecycle.Policy(
                hasReadyProbe: false, hasAliveProbe: false, restart: service.restart,
                maxRestarts: service.maxRestarts, stopSignal: service.stopSignal,
                stopTimeout: service.stopTimeout, isTask: stack.isTask(service)),
            optional: service.optional, dependsOn: service.dependsOn, port: port, outputs: outputs, kind: .command)
        let logs = service.logs.resolved(over: stack.logs)
        plan.logLimit = LogLimit(maxSize: logs.maxSize, maxFiles: logs.maxFiles)

        if let engine = service.engine {
            let context = EngineContext(
                stack: stack, service: service, engine: engine, port: port ?? 0, paths: paths,
                environment: env, lookup: lookup, planner: self)
            try EngineCatalog.engine(for: engine.kind).configure(&plan, context: context)
        } else if let command = service.command {
            let argv = command.argv(lookup)
            guard
                let executable = ProgramLocator.find(
                    argv[0], workingDir: service.workingDir,
                    path: env["PATH"] ?? "/usr/bin:/bin")
            else {
                throw MusterError(
                    .serviceFailed, "service \(service.name): program \"\(argv[0])\" not found or not executable",
                    at: service.location)
            }
            plan.executable = executable
            plan.argv = argv
        }
        if let ready = service.ready {
            plan.ready = try resolve(ready, service: service, env: env, lookup: lookup, plan: plan)
        }
        if let alive = service.alive {
            plan.alive = try resolve(alive, service: service, env: env, lookup: lookup, plan: plan)
        }
        plan.policy.hasReadyProbe = plan.ready != nil
        plan.policy.hasAliveProbe = plan.alive != nil
        let keys = KeyHolder()
        var keyed: [KeyedTarget] = []
        var unkeyed = false
        for postgres in stack.services where postgres.engine?.snapshot?.after == service.name {
            if let target = keyedTarget(postgres, lookup: lookup) {
                keyed.append(target)
                plan.afterCompletion.append(keyedSnapshotStep(target, task: service.name, keys: keys))
            } else {
                unkeyed = true
                plan.afterCompletion.append(snapshotStep(of: postgres, lookup: lookup))
            }
        }
        if !keyed.isEmpty, !unkeyed { plan.skipCheck = skipCheck(for: service, targets: keyed, keys: keys) }
        if service.engine?.snapshot != nil, let target = keyedTarget(service, lookup: lookup),
            let seed = seedStep(target, dataDir: plan.workingDir, credentials: plan.credentials)
        {
            plan.preStart.insert(seed, at: 0)
        }
        return plan
    }

    /// `snapshot: { after: TASK }`: the snapshot, and its pool of ready copies, so the
    /// first restores after `up -d` take one each.
    func snapshotStep(of postgres: ServiceSpec, lookup: @escaping (String, String) -> String?) -> PreStartStep {
        let spec = postgres.engine!.snapshot!
        let database = spec.database ?? postgres.engine?.databases.first ?? "postgres"
        let socketDir = PostgresEngine.socketDirectory(paths: paths, service: postgres.name)
        let port = lookup(postgres.name, "port") ?? "0"
        let task = spec.after
        let desk = self.desk
        let pool = DatabaseTurns.poolKey(DatabaseSnapshots.snapshotDatabase(of: database, name: spec.name))
        return { context in
            let begin = Date()
            // On the turns a `muster db snapshot` takes (`up` waits for the pool anyway).
            try await desk.locked(database, pool) {
                let snapshots = try DatabaseSnapshots.admin(socketDir: socketDir, port: port)
                let (snapshot, _) = try snapshots.snapshot(database, name: spec.name)
                try snapshots.fill(database, snapshot: snapshot.template, size: spec.spares)
            }
            let line = String(
                format: "muster: snapshot \"%@\" of %@ taken after %@ completed (%.0f ms)\n",
                spec.name, database, task, Date().timeIntervalSince(begin) * 1000)
            writeAll(context.logFD, line)
        }
    }

    func resolve(
        _ spec: ProbeSpec, service: ServiceSpec, env: [String: String],
        lookup: @escaping (String, String) -> String?, plan: ServicePlan
    ) throws -> ResolvedProbe {
        switch spec.kind {
        case let .http(url):
            return .polling(
                HTTPProbe(url: url.resolve(lookup), timeout: spec.timeout, identityField: spec.identityField), spec)
        case let .tcp(target):
            let text = target.resolve(lookup)
            guard let (host, port) = TCPProbe.parse(text) else {
                throw MusterError(.invalidStack, "tcp probe target \"\(text)\" is not HOST:PORT", at: spec.location)
            }
            return .polling(TCPProbe(host: host, port: port, timeout: spec.timeout), spec)
        case let .exec(command):
            let argv = command.argv(lookup)
            guard
                let executable = ProgramLocator.find(
                    argv[0], workingDir: service.workingDir, path: env["PATH"] ?? "/usr/bin:/bin")
            else {
                throw MusterError(.invalidStack, "exec probe program \"\(argv[0])\" not found", at: spec.location)
            }
            let environment = env.map { "\($0.key)=\($0.value)" }
            return .polling(
                ExecProbe(
                    executable: executable, arguments: argv, environment: environment,
                    workingDirectory: service.workingDir, timeout: spec.timeout), spec)
        case let .log(pattern):
            return .log(try NSRegularExpression(pattern: pattern), spec)
        case .notify:
            return .notify(spec)
        case .postgres, .redis, .kafka:
            return try EngineCatalog.probe(spec, service: service, stack: stack, planner: self, lookup: lookup)
        }
    }
}
