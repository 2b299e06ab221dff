import CMusterShims
import Foundation

/// `muster doctor`: can this stack start here, and if not, what to do. One check per
/// engine the stack uses (all three without a stack file), then the user, the ports,
/// the runtime folder and the kernel features muster relies on.
public struct DoctorReport: Codable, Sendable {
    /// One engine: found or missing, where, and how to install it when missing.
    public struct EngineCheck: Codable, Sendable {
        public var engine: String
        public var services: [String]
        public var found: Bool
        public var binary: String?
        public var version: String?
        public var foundIn: String?
        public var looked: [String]
        public var install: String?
        /// The implementation that will run, for an engine with several (Kafka: `tansu`,
        /// `apache`, `redpanda`).
        public var implementation: String?
        /// What that implementation lacks, each with the figure measured here and the
        /// workaround (the built-in broker's; empty for one not tested here).
        public var limits: [EngineLimit]?
        /// Said of an implementation not tested here.
        public var note: String?
    }

    /// One other check: a name, whether it passes, and a line for a person.
    public struct Check: Codable, Sendable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public var stackFile: String?
    public var project: String?
    public var engines: [EngineCheck]
    public var checks: [Check]
    /// muster's pytest plugin in the Python environment at hand (never decides `canStart`).
    public var pytestPlugin: PluginCheck?
    /// True when nothing found stops the stack from starting.
    public var canStart: Bool { engines.allSatisfy(\.found) && checks.allSatisfy(\.ok) }

    enum CodingKeys: String, CodingKey { case stackFile, project, engines, checks, pytestPlugin, canStart }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(stackFile, forKey: .stackFile)
        try container.encodeIfPresent(project, forKey: .project)
        try container.encode(engines, forKey: .engines)
        try container.encode(checks, forKey: .checks)
        try container.encodeIfPresent(pytestPlugin, forKey: .pytestPlugin)
        try container.encode(canStart, forKey: .canStart)
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        stackFile = try container.decodeIfPresent(String.self, forKey: .stackFile)
        project = try container.decodeIfPresent(String.self, forKey: .project)
        engines = try container.decode([EngineCheck].self, forKey: .engines)
        checks = try container.decode([Check].self, forKey: .checks)
        pytestPlugin = try container.decodeIfPresent(PluginCheck.self, forKey: .pytestPlugin)
    }

    /// Examines the machine for `stack` (nil: for all three engines, no stack file).
    public init(
        stack: StackSpec?, paths: ProjectPaths?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        stackFile = stack?.file
        project = paths?.project
        let services = stack?.services ?? []
        var engines: [EngineCheck] = []
        for kind in EngineKind.allCases {
            let users = services.filter { $0.engine?.kind == kind }
            guard stack == nil || !users.isEmpty else { continue }
            let options = users.first?.engine ?? EngineOptions(kind: kind)
            engines.append(
                Self.engineCheck(
                    kind, options: options, services: users.map(\.name), stack: stack, environment: environment))
        }
        self.engines = engines
        var checks = [Self.userCheck(stack: stack, paths: paths)]
        if let stack { checks += Self.portChecks(stack: stack, paths: paths) }
        checks.append(Self.runtimeCheck())
        if stack == nil || services.contains(where: { $0.engine?.kind == .postgres }) {
            checks.append(Self.templateCacheCheck(environment: environment))
        }
        checks += Self.kernelChecks()
        self.checks = checks
        pytestPlugin = PluginCheck.examine(environment: environment)
    }

    static func engineCheck(
        _ kind: EngineKind, options: EngineOptions, services: [String], stack: StackSpec?,
        environment: [String: String]
    ) -> EngineCheck {
        let search: ServerSearch
        var versionArgs = ["--version"]
        var implementation: ServiceKind.Implementation?
        switch kind {
        case .postgres:
            search = PostgresEngine.locate(bin: options.bin, environment: environment)
        case .redis:
            search = RedisEngine.locate(bin: options.bin, environment: environment)
        case .kafka:
            let directory = stack?.directory ?? FileManager.default.currentDirectoryPath
            let (kafka, server) = KafkaServers.locate(options, environment: environment, stackDirectory: directory)
            search = kafka
            if case .redpanda? = server { versionArgs = ["version"] }
            implementation = server?.kind
        }
        let version = search.found.flatMap { QueryProgram.firstLine([$0] + versionArgs) }.map(Self.versionNumber)
        return EngineCheck(
            engine: kind.rawValue, services: services, found: search.found != nil, binary: search.found,
            version: version, foundIn: search.foundIn, looked: search.places,
            install: search.found == nil ? search.install : nil,
            implementation: implementation?.rawValue, limits: implementation?.limits,
            note: implementation?.untestedNote)
    }

    /// `postgres (PostgreSQL) 15.18 (Debian ...)` → `15.18`; the whole line when it holds no number.
    static func versionNumber(_ line: String) -> String {
        guard let range = line.range(of: #"[0-9]+(\.[0-9]+)+"#, options: .regularExpression) else { return line }
        return String(line[range])
    }

    /// Root or not; as root, whether the `postgres` user can reach the project folder
    /// (when it cannot, the cluster lives under /var/lib/muster/postgres instead).
    static func userCheck(stack: StackSpec?, paths: ProjectPaths?) -> Check {
        let name = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(getuid())"
        guard getuid() == 0 else {
            return Check(name: "user", ok: true, detail: "running as \(name): every server runs as \(name)")
        }
        let usesPostgres = stack.map { $0.services.contains { $0.engine?.kind == .postgres } } ?? true
        guard usesPostgres else { return Check(name: "user", ok: true, detail: "running as root") }
        guard let entry = getpwnam(PostgresEngine.superuser) else {
            return Check(
                name: "user", ok: false,
                detail:
                    "running as root, and there is no postgres user for Postgres to run as; create one: useradd --system --home /var/lib/postgresql postgres"
            )
        }
        let credentials = ServicePlan.Credentials(
            user: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
        guard let paths else {
            return Check(name: "user", ok: true, detail: "running as root: Postgres runs as the postgres user")
        }
        if (try? PostgresEngine.checkReachable(paths.dataDir + "/x", by: credentials)) != nil {
            return Check(
                name: "user", ok: true,
                detail: "running as root: Postgres runs as the postgres user, who can reach \(paths.stateDir)")
        }
        return Check(
            name: "user", ok: true,
            detail:
                "running as root: the postgres user cannot enter the project folder, so clusters live in \(PostgresDataHome.base), linked from \(paths.dataDir)"
        )
    }

    /// Fixed ports already in use, with who holds them (the project's own running
    /// stack is no obstacle).
    static func portChecks(stack: StackSpec, paths: ProjectPaths?) -> [Check] {
        let running = paths.map(ProjectLock.isHeld) ?? false
        return stack.services.compactMap { service -> Check? in
            guard case let .fixed(port)? = service.port else { return nil }
            if PortPreflight.isFree(port) {
                return Check(name: "port \(port)", ok: true, detail: "\(service.name): port \(port) is free")
            }
            if running {
                return Check(
                    name: "port \(port)", ok: true,
                    detail: "\(service.name): port \(port) is held by this project's running stack")
            }
            return Check(
                name: "port \(port)", ok: false,
                detail:
                    "\(service.name): port \(port) is in use: \(PortPreflight.describeHolder(of: port)); stop it or use port: auto"
            )
        }
    }

    /// The Postgres template cache: where, how large, and its limit (never fails).
    static func templateCacheCheck(environment: [String: String]) -> Check {
        let cache = PostgresTemplate.cacheDirectory(asRoot: getuid() == 0, environment: environment)
        let entries = TemplateCache.entries(in: cache)
        let bytes = entries.reduce(0) { $0 + $1.bytes }
        let size = String(format: "%.1f MB", Double(bytes) / Double(1 << 20))
        return Check(
            name: "Postgres template cache", ok: true,
            detail:
                "\(cache): \(size) in \(entries.count) key\(entries.count == 1 ? "" : "s") (limit \(ByteSize.format(TemplateCache.limit(environment))), "
                + "least recently used pruned first; MUSTER_TEMPLATE_CACHE_LIMIT sets it)")
    }

    static func runtimeCheck() -> Check {
        let base = ProjectPaths.runtimeBase
        var info = stat()
        if lstat(base, &info) != 0 {
            let parent = (base as NSString).deletingLastPathComponent
            let ok = access(parent, W_OK | X_OK) == 0
            return Check(
                name: "runtime folder", ok: ok,
                detail: ok
                    ? "\(base) will be created (sockets and locks)"
                    : "\(base) cannot be created: \(parent) is not writable")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid() else {
            return Check(name: "runtime folder", ok: false, detail: "\(base) is not a folder owned by you; remove it")
        }
        return Check(name: "runtime folder", ok: true, detail: "\(base) (sockets and locks)")
    }

    static func kernelChecks() -> [Check] {
        KernelFeatures.all.map { feature in
            Check(
                name: feature.name, ok: feature.available || !feature.required,
                detail: (feature.available ? "available: " : "missing: ") + feature.why)
        }
    }
}
