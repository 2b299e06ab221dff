import Foundation

/// A validated stack file: every service, with templates still holding
/// `${service.output}` references until start.
public struct StackSpec: Sendable {
    public var name: String
    /// Absolute path of the stack file.
    public var file: String
    /// Folder of the stack file; relative paths and `.muster/` live here.
    public var directory: String
    public var env: [EnvEntry]
    public var services: [ServiceSpec]
    /// Every file given with `-f`, in merge order (the first is `file`).
    public var files: [String] = []
    /// Non-fatal findings (e.g. unset variables interpolated as empty).
    public var warnings: [String]
    /// Log rotation for every service that does not set its own (top-level `logs:`).
    public var logs = LogSettings()
    /// The file watcher's settings (top-level `watch:`).
    public var watch = WatchSettings()

    public func service(named name: String) -> ServiceSpec? {
        services.first { $0.name == name }
    }

    public var serviceNames: [String] { services.map(\.name) }
}

/// One `KEY: value` of an `env` block, in file order.
public struct EnvEntry: Hashable, Sendable {
    public var key: String
    public var value: Template
    public init(key: String, value: Template) {
        self.key = key
        self.value = value
    }
}

public enum RestartPolicy: String, Sendable, CaseIterable {
    case no
    case onFailure = "on-failure"
    case always
}

public enum DependencyCondition: String, Sendable, CaseIterable {
    /// The process was spawned.
    case started
    /// Its ready probe passed (or it has none), or it completed.
    case ready
    /// It exited with code 0.
    case completed
}

public struct Dependency: Hashable, Sendable {
    public var service: String
    public var condition: DependencyCondition
    public var location: SourceLocation?
}

public enum PortSpec: Hashable, Sendable {
    case fixed(Int)
    case auto
}

public enum EngineKind: String, Sendable, CaseIterable {
    case postgres, redis, kafka
}

public enum KafkaImplementation: String, Sendable, CaseIterable {
    case auto, apache, redpanda, tansu
}

/// `snapshot: { after: migrate }` on a Postgres service: take a snapshot of a database
/// as soon as that task completes, so `up -d` returns with it ready for `db restore`.
public struct SnapshotSpec: Hashable, Sendable {
    public var after: String
    public var name: String = "default"
    /// Default: the service's first database.
    public var database: String?
    /// How many ready copies each database restored from this snapshot keeps (`spares:`).
    public var spares: Int = SnapshotSpec.defaultSpares
    public var location: SourceLocation?
    /// `key: [GLOBS]`: the files whose contents (with the task's command and environment
    /// and the Postgres build) name the snapshot; with a key, a task whose snapshot is
    /// current is not run again (`SnapshotKey`). Empty: no key, the task always runs.
    public var key: [KeyGlob] = []
    /// The folder the key's globs are relative to: the stack file's.
    public var keyBase: String = ""

    public static let defaultSpares = 2
    public static let sparesRange = 0...32
}

/// One glob of `snapshot.key`, as written, relative to the stack file's folder.
public struct KeyGlob: Hashable, Sendable {
    public var pattern: String
    public var location: SourceLocation?

    public init(pattern: String, location: SourceLocation? = nil) {
        self.pattern = pattern
        self.location = location
    }
}

public struct TopicSpec: Hashable, Sendable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
}

/// The engine-only fields of a service block.
/// How hard a Postgres service works to keep data through a crash of the machine.
public enum Durability: String, Sendable, CaseIterable {
    /// No fsync and no full-page writes: every commit still reaches the kernel before
    /// it is acknowledged, so a crash or SIGKILL of Postgres or muster loses nothing;
    /// only an operating-system crash or a power loss can lose or corrupt data.
    case fast
    /// Postgres's own defaults: every commit is on the disk before it is acknowledged.
    case full
}

public struct EngineOptions: Hashable, Sendable {
    public var kind: EngineKind
    /// postgres `-c` flags or redis directives, in file order.
    public var settings: [(key: String, value: String)] = []
    public var databases: [String] = []
    public var user: String?
    public var password: String?
    public var topics: [TopicSpec] = []
    public var implementation: KafkaImplementation = .auto
    /// A folder of server binaries that overrides discovery.
    public var bin: String?
    /// Postgres: new clusters are copies of a cached pristine one (`PostgresTemplate`);
    /// `template: false` runs initdb for each.
    public var template = true
    /// Postgres: a snapshot taken when a task completes.
    public var snapshot: SnapshotSpec?
    /// Postgres: whether commits wait for the disk (`full`) or only for the kernel (`fast`).
    public var durability: Durability = .fast

    public init(kind: EngineKind) { self.kind = kind }

    public static func == (lhs: EngineOptions, rhs: EngineOptions) -> Bool {
        lhs.kind == rhs.kind
            && lhs.settings.map { "\($0.key)=\($0.value)" } == rhs.settings.map { "\($0.key)=\($0.value)" }
            && lhs.databases == rhs.databases && lhs.user == rhs.user && lhs.password == rhs.password
            && lhs.topics == rhs.topics && lhs.implementation == rhs.implementation && lhs.bin == rhs.bin
            && lhs.durability == rhs.durability
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(databases)
        hasher.combine(user)
    }
}

public struct ServiceSpec: Sendable {
    public var name: String
    public var location: SourceLocation?
    public var engine: EngineOptions?
    public var command: CommandSpec?
    /// Absolute working directory (default: the stack file's folder).
    public var workingDir: String
    public var env: [EnvEntry] = []
    /// Variables read from the service's `env_file`s at load time.
    public var envFileValues: [EnvEntry] = []
    public var dependsOn: [Dependency] = []
    public var ready: ProbeSpec?
    public var alive: ProbeSpec?
    public var restart: RestartPolicy = .no
    /// nil: no limit.
    public var maxRestarts: Int?
    public var stopSignal: Int32 = SIGTERM
    public var stopTimeout: Duration = .seconds(10)
    public var optional = false
    /// `task: true`: runs once and must exit 0; `up` waits until it has completed.
    public var task = false
    /// Started by default only when one of these profiles is active (compose `profiles`);
    /// empty: always. Naming the service starts it regardless.
    public var profiles: [String] = []
    public var port: PortSpec?
    public var portLocation: SourceLocation?
    /// Its own log rotation fields; unset ones come from the stack's `logs:`.
    public var logs = LogSettings()
    /// What a change to which files does (`watch:`), in file order.
    public var watch: [WatchRule] = []
    /// Warnings the rules gave (a path that matches nothing yet), with their location.
    public var watchWarnings: [String] = []

    public init(name: String, workingDir: String) {
        self.name = name
        self.workingDir = workingDir
    }

    /// Every template of the service, for reference checks.
    /// Whether a plain `up` (no services named) starts it.
    public func isEnabled(profiles active: Set<String>) -> Bool {
        profiles.isEmpty || !active.isDisjoint(with: profiles)
    }

    public var templates: [Template] {
        var all = env.map(\.value)
        if let command { all += command.templates }
        for probe in [ready, alive].compactMap({ $0 }) { all += probe.kind.templates }
        return all
    }
}
