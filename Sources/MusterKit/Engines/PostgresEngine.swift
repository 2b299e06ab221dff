import Foundation

/// Postgres: initdb on first start, the server as an unprivileged user when muster
/// is root (dropped by muster itself, so signals reach the postmaster), settings as
/// `-c`, `max_connections` 200 by default, TCP on 127.0.0.1 only and the unix
/// socket in a short runtime dir. Ready when the role and databases exist and a
/// real password connection to the first database answers `SELECT 1`.
struct PostgresEngine: Engine {
    static let superuser = "postgres"
    /// `max_connections` 200: web workers, background workers and parallel test
    /// workers together pass the stock 100. `recovery_init_sync_method=syncfs`:
    /// after a crash, Postgres syncs the data directory before recovery; one
    /// syncfs() instead of an fsync per file takes recovery from seconds to
    /// milliseconds here, with the same durability.
    static let defaults: [(String, String)] = [("max_connections", "200"), ("recovery_init_sync_method", "syncfs")]
    /// `durability: fast` (the default): no fsync and no full-page writes. A development
    /// or test cluster gains nothing from waiting for the platter: the shutdown
    /// checkpoint of a cluster with a few databases synced for seconds on a slow disk.
    /// `synchronous_commit` stays on, so every commit is written to the kernel before
    /// it is acknowledged: a crash or SIGKILL of Postgres (or of muster) loses nothing;
    /// only an operating-system crash or a power loss can.
    static let fastDurability: [(String, String)] = [
        ("fsync", "off"), ("full_page_writes", "off"), ("synchronous_commit", "on"),
    ]

    func outputs(service: ServiceSpec, engine: EngineOptions, port: Int) -> [String: String] {
        let user = engine.user ?? Self.superuser
        let password = engine.password ?? ""
        let database = engine.databases.first ?? "postgres"
        let auth = password.isEmpty ? percentEncoded(user) : "\(percentEncoded(user)):\(percentEncoded(password))"
        return [
            "host": "127.0.0.1", "port": String(port), "user": user, "password": password, "database": database,
            "url": "postgresql://\(auth)@127.0.0.1:\(port)/\(percentEncoded(database))",
        ]
    }

    /// Postgres refuses root: when muster is root, the `postgres` system user.
    static func credentials(for service: ServiceSpec) throws -> ServicePlan.Credentials? {
        guard getuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw MusterError(
                .environment,
                "service \(service.name): Postgres refuses to run as root and there is no postgres user; create one (useradd --system --home /var/lib/postgresql postgres) or run muster as a normal user",
                at: service.location)
        }
        return ServicePlan.Credentials(user: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    func socketDirectory(_ context: EngineContext) -> String {
        Self.socketDirectory(paths: context.paths, service: context.service.name)
    }

    /// The unix socket folder of a Postgres service: short, in the runtime base.
    static func socketDirectory(paths: ProjectPaths, service: String) -> String {
        paths.postgresSocketDir(for: service)
    }

    func configure(_ plan: inout ServicePlan, context: EngineContext) throws {
        let service = context.service
        let search = Self.locate(bin: context.engine.bin, environment: context.environment)
        guard let bin = search.found.map({ ($0 as NSString).deletingLastPathComponent }) else {
            throw MusterError(
                .environment,
                search.notFound(service: service.name) + ", or set bin: to the folder with postgres and initdb",
                at: service.location)
        }
        let credentials = try Self.credentials(for: service)
        let (dataDir, link) = PostgresDataHome.resolve(context.dataDir, credentials: credentials)
        let socketDir = socketDirectory(context)
        let defaults = Self.defaults + (context.engine.durability == .fast ? Self.fastDurability : [])
        var settings = defaults.filter { key, _ in !context.engine.settings.contains { $0.key == key } }
        settings += context.engine.settings.map { ($0.key, $0.value) }
        plan.kind = .postgres
        let monitorPort = context.port
        plan.monitors.append { PostgresMonitor(socketDir: socketDir, port: monitorPort) }
        plan.executable = bin + "/postgres"
        plan.argv =
            [
                plan.executable, "-D", dataDir, "-p", String(context.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=\(socketDir)",
            ]
            + settings.flatMap { ["-c", "\($0.0)=\($0.1)"] }
        plan.credentials = credentials
        plan.workingDir = dataDir
        plan.environment["PGDATA"] = dataDir
        plan.environment["LC_ALL"] = "C"
        plan.policy.stopSignal = service.stopSignal == SIGTERM ? SIGINT : service.stopSignal
        // pg_ctl's ladder: fast shutdown, then immediate shutdown, SIGKILL only last.
        if plan.policy.stopSignal == SIGINT { plan.policy.escalation = PostgresShutdown.escalation }
        plan.releaseCheck = { PostgresShutdown.holder(of: dataDir) }
        let password = context.engine.password
        let environment = plan.environment
        let templates =
            PostgresTemplate.enabled(engine: context.engine, environment: context.environment)
            ? PostgresTemplate.cacheDirectory(credentials: credentials, environment: context.environment) : nil
        plan.preStart.append { context in
            if let link { try PostgresDataHome.prepareLink(link, to: dataDir) }
            try await Self.ensureCluster(
                bin: bin, dataDir: dataDir, credentials: credentials, withPassword: password != nil,
                environment: environment, logFD: context.logFD, templates: templates)
            try Self.prepareDirectory(dataDir, credentials: credentials, mode: 0o700)
            try Self.prepareDirectory(socketDir, credentials: credentials, mode: 0o700)
            try await PostgresShutdown.awaitPrevious(dataDir: dataDir, logFD: context.logFD)
            Self.clearStaleLocks(dataDir: dataDir, socketDir: socketDir)
        }
        plan.ready = try probe(.readyDefaults(.postgres), service: service, context: context)
    }

    func probe(_ spec: ProbeSpec, service: ServiceSpec, context: EngineContext) throws -> ResolvedProbe {
        .polling(
            PostgresProbe(
                socketDir: socketDirectory(context), port: context.port, engine: context.engine,
                timeout: spec.timeout), spec)
    }

    static func prepareDirectory(_ path: String, credentials: ServicePlan.Credentials?, mode: mode_t) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw MusterError(.environment, "cannot create \(path): \(error.localizedDescription)")
        }
        if let credentials, chown(path, credentials.uid, credentials.gid) != 0 {
            throw MusterError(
                .environment, "cannot hand \(path) to user \(credentials.user): \(String(cString: strerror(errno)))")
        }
        chmod(path, mode)
    }

    /// A `postmaster.pid` left by a postmaster that is gone (muster was SIGKILLed, or
    /// an immediate shutdown) is removed, once `PostgresShutdown.awaitPrevious` saw
    /// nothing of it still holding the data. Data is never touched.
    static func clearStaleLocks(dataDir: String, socketDir: String) {
        try? FileManager.default.removeItem(atPath: dataDir + "/postmaster.pid")
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: socketDir)) ?? []
        where entry.hasPrefix(".s.PGSQL") {
            try? FileManager.default.removeItem(atPath: socketDir + "/" + entry)
        }
    }

    /// Creates the cluster when there is none. initdb runs in a sibling folder that
    /// is renamed into place only when complete, so a supervisor killed mid-initdb
    /// never leaves a half-made cluster behind; a half-made one from elsewhere is
    /// moved aside (never deleted) and a fresh one made.
    static func ensureCluster(
        bin: String, dataDir: String, credentials: ServicePlan.Credentials?, withPassword: Bool,
        environment: [String: String], logFD: Int32, templates: String? = nil
    ) async throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: dataDir + "/global/pg_control") { return }
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: dataDir, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw MusterError(.environment, "\(dataDir) is a file, not a data folder; move it away and start again")
            }
            if fm.fileExists(atPath: dataDir + "/PG_VERSION") {
                let aside = dataDir + ".incomplete-\(Int(Date().timeIntervalSince1970))"
                try fm.moveItem(atPath: dataDir, toPath: aside)
                writeAll(logFD, "muster: \(dataDir) held an unfinished initdb; moved it to \(aside)\n")
            } else if (try? fm.contentsOfDirectory(atPath: dataDir))?.isEmpty == true {
                try fm.removeItem(atPath: dataDir)
            }
        }
        if let credentials { try checkReachable(dataDir, by: credentials) }
        try? fm.createDirectory(
            atPath: (dataDir as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        FolderPlacement.spreadSubfolders(of: (dataDir as NSString).deletingLastPathComponent)
        let arguments = initdbArguments(withPassword: withPassword)
        if let templates {
            let template = PostgresTemplate(bin: bin, initdbArguments: arguments, credentials: credentials)
            if try await template.copy(to: dataDir, cache: templates, environment: environment, logFD: logFD) { return }
        }
        // Only ever an interrupted initdb is swept: it never held data.
        FolderPlacement.sweepStaging(for: dataDir, "initdb")
        let staging = FolderPlacement.staging(for: dataDir, "initdb")
        try prepareDirectory(staging, credentials: credentials, mode: 0o700)
        try await runInitdb(
            bin: bin, dataDir: staging, arguments: arguments, credentials: credentials,
            environment: environment, logFD: logFD)
        guard rename(staging, dataDir) == 0 else {
            throw MusterError(
                .environment, "cannot move the new cluster into \(dataDir): \(String(cString: strerror(errno)))")
        }
    }

    /// Postgres runs as another user when muster is root: every folder above its data
    /// must let that user through, or initdb fails with a bare "permission denied".
    static func checkReachable(_ dataDir: String, by credentials: ServicePlan.Credentials) throws {
        var folder = (dataDir as NSString).deletingLastPathComponent
        while folder != "/" && !folder.isEmpty {
            var info = stat()
            if stat(folder, &info) == 0 {
                let mode = info.st_mode
                let passes =
                    info.st_uid == credentials.uid
                    ? mode & S_IXUSR != 0
                    : info.st_gid == credentials.gid
                        ? mode & S_IXGRP != 0
                        : mode & S_IXOTH != 0
                guard passes else {
                    throw MusterError(
                        .environment,
                        "Postgres runs as user \(credentials.user), who cannot enter \(folder) (mode \(String(mode & 0o777, radix: 8))); run chmod o+x \(folder), or keep the project where that user can reach it"
                    )
                }
            }
            folder = (folder as NSString).deletingLastPathComponent
        }
    }

    /// What initdb is given besides the folder; also the key of a cluster template.
    static func initdbArguments(withPassword: Bool) -> [String] {
        [
            "-U", superuser, "-E", "UTF8", "--no-locale", "--auth-local=trust",
            "--auth-host=" + (withPassword ? "scram-sha-256" : "trust"), "--no-sync",
        ]
    }

    static func runInitdb(
        bin: String, dataDir: String, arguments: [String], credentials: ServicePlan.Credentials?,
        environment: [String: String], logFD: Int32
    ) async throws {
        let argv = [bin + "/initdb", "-D", dataDir] + arguments
        var request = SpawnRequest(
            executable: argv[0], arguments: argv,
            environment: environment.map { "\($0.key)=\($0.value)" }, workingDirectory: dataDir)
        request.outputFD = logFD
        if let credentials { request.credentials = (credentials.uid, credentials.gid) }
        let status = try await ProcessSpawner.shared.runToExit(request)
        guard status.isSuccess else {
            // Name the cause when initdb's own output shows a common one.
            let log = SystemPaths.path(of: logFD) ?? ""
            let tail = FileTail.lastLines(of: log, count: 30)
            if let full = tail.last(where: { $0.contains("No space left on device") }) {
                throw MusterError(
                    .serviceFailed,
                    "initdb \(status): the disk is full (\(full.trimmingCharacters(in: .whitespaces))); free some space and start again"
                )
            }
            if let denied = tail.last(where: { $0.contains("Permission denied") }) {
                throw MusterError(.serviceFailed, "initdb \(status): \(denied.trimmingCharacters(in: .whitespaces))")
            }
            throw MusterError(.serviceFailed, "initdb \(status); see its output in the service log")
        }
    }
}

/// Ready when Postgres accepts a real connection, is out of recovery, has the
/// declared role and databases (created here if missing), and the first database
/// answers `SELECT 1` to the declared user over TCP. The identity is the
/// postmaster's start time.
struct PostgresProbe: PollingProbe {
    var socketDir: String
    var port: Int
    var engine: EngineOptions
    var timeout: Duration

    func check() async -> ProbeOutcome {
        let probe = self
        return await offload { probe.checkNow() }
    }

    func checkNow() -> ProbeOutcome {
        let seconds = max(1, Int(timeout.seconds.rounded(.up)))
        do {
            let admin = try PostgresConnection(
                "host=\(PostgresConnection.conninfoValue(socketDir)) port=\(port) user=postgres dbname=postgres connect_timeout=\(seconds) application_name=muster"
            )
            if try admin.value("SELECT pg_is_in_recovery()") == "t" { return .failed("postgres is in recovery") }
            let user = engine.user ?? PostgresEngine.superuser
            if let password = engine.password {
                let exists = try admin.value("SELECT 1 FROM pg_roles WHERE rolname = \(admin.literal(user))") != nil
                let verb = exists ? "ALTER" : "CREATE"
                try admin.query("\(verb) ROLE \(admin.identifier(user)) WITH LOGIN PASSWORD \(admin.literal(password))")
            } else if user != PostgresEngine.superuser,
                try admin.value("SELECT 1 FROM pg_roles WHERE rolname = \(admin.literal(user))") == nil
            {
                try admin.query("CREATE ROLE \(admin.identifier(user)) WITH LOGIN")
            }
            for database in engine.databases
            where try admin.value("SELECT 1 FROM pg_database WHERE datname = \(admin.literal(database))") == nil {
                do {
                    try admin.query("CREATE DATABASE \(admin.identifier(database)) OWNER \(admin.identifier(user))")
                } catch let error as NetworkError where error.message.contains("already exists") {
                    continue  // another probe created it a moment ago
                }
            }
            let started = try admin.value("SELECT pg_postmaster_start_time()")
            let database = engine.databases.first ?? "postgres"
            var conninfo =
                "host=127.0.0.1 port=\(port) user=\(PostgresConnection.conninfoValue(user)) dbname=\(PostgresConnection.conninfoValue(database)) connect_timeout=\(seconds) application_name=muster"
            if let password = engine.password { conninfo += " password=\(PostgresConnection.conninfoValue(password))" }
            let app = try PostgresConnection(conninfo, total: .seconds(seconds))
            guard try app.value("SELECT 1") == "1" else { return .failed("SELECT 1 did not answer 1") }
            return .passed(identity: started)
        } catch {
            return .failed("\(error)")
        }
    }
}
