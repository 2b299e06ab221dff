import Foundation

/// One service as `muster ps` and `GET /v1/status` show it.
public struct ServiceStatus: Codable, Sendable, Equatable {
    public var name: String
    /// `command`, or an engine and its implementation (`postgres`, `kafka (tansu)`): `ServiceKind`.
    public var kind: String
    /// A lifecycle phase (`starting`, `ready`, `completed`, `stopped`, ...), or
    /// `inactive` for a service this run has not been asked to start.
    public var state: String
    public var pid: Int32?
    public var ready: Bool
    public var available: Bool
    public var restarts: Int
    /// Restarts muster did not cause: in place, or by something else.
    public var restartsDetected: Int
    public var uptimeS: Double?
    public var ports: [Int]
    /// Seconds from start to ready (or to completion for a task).
    public var readyInS: Double?
    public var failure: String?
    /// Runs once and must exit 0 (`task: true`, or another service waits for it with `completed`).
    public var task: Bool
    /// RFC 3339 time its last run completed (exited 0), while it is `completed`.
    public var completedAt: String?
    /// Why a completed task did not run (`skipped: snapshot for key 3f2a… is current`); absent when it ran.
    public var skipped: String?
    /// A file change acts on it (`watch:` rules, or `up --watch`); absent when not.
    public var watched: Bool?

    init(_ snapshot: ServiceSnapshot, wanted: Bool, watched: Bool = false, now: Date = Date()) {
        name = snapshot.name
        kind = snapshot.kind.description
        state = snapshot.phase == .pending && !wanted ? "inactive" : snapshot.phase.rawValue
        pid = snapshot.pid
        ready = snapshot.phase == .ready || snapshot.phase == .completed
        available = snapshot.available
        restarts = snapshot.restarts
        restartsDetected = snapshot.restartsDetected
        uptimeS =
            snapshot.pid == nil
            ? nil : snapshot.processStartedAt.map { (now.timeIntervalSince($0) * 1000).rounded() / 1000 }
        ports = snapshot.port.map { [$0] } ?? []
        readyInS = snapshot.readyDuration.map { ($0 * 1000).rounded() / 1000 }
        failure = snapshot.failure.map(Secrets.mask)
        task = snapshot.isTask
        completedAt = snapshot.completedAt.map(EventLog.timestamp)
        skipped = snapshot.skipped
        self.watched = watched ? true : nil
    }
}

/// `GET /v1/status`: the supervisor and every service.
public struct StatusReport: Codable, Sendable {
    public var project: String
    /// Always true here; `ps --json` prints `"running": false` when no supervisor answers.
    public var running: Bool = true
    public var supervisorPid: Int32
    public var stackFile: String
    public var started: String
    public var services: [ServiceStatus]
    /// Every process group the stack has used, for `down`'s leak check.
    public var groups: [Int32]
}

/// The body of `POST /v1/start|stop|restart`.
public struct OperationRequest: Codable, Sendable, Equatable {
    /// Services to act on; empty means all (for start).
    public var services: [String]
    /// Give up after this long (start and restart); nil waits for the services' own start_timeout.
    public var timeoutMs: Int?
    /// restart only: leave the services that depend on it alone.
    public var noDeps: Bool?
    /// start with no services named: the active profiles that decide which start.
    public var profiles: [String]?

    public init(services: [String], timeoutMs: Int? = nil, noDeps: Bool? = nil) {
        self.services = services
        self.timeoutMs = timeoutMs
        self.noDeps = noDeps
    }
}

/// What every operation answers, and what a detached supervisor reports to the
/// `up -d` that started it.
public struct OperationResult: Codable, Sendable {
    public var ok: Bool
    /// A `MusterError.Code` raw value when `ok` is false.
    public var code: String?
    public var error: String?
    public var details: [String]?
    /// Services the operation touched beyond the named ones (restarted dependents, stopped dependents).
    public var affected: [String]?
    /// Startup timeline lines (`up -d`).
    public var timeline: [String]?
    public var services: [ServiceStatus]?
    /// Processes that had to be killed after the orderly stop (shutdown).
    public var leftovers: [String]?
    /// Shutdown: every process group the stack used, for the caller's leak check.
    public var groups: [Int32]?

    public init(ok: Bool) { self.ok = ok }

    public init(_ error: MusterError) {
        ok = false
        code = error.code.rawValue
        self.error = error.headline
        details = error.details.isEmpty ? nil : error.details
    }

    /// The error this result stands for, or nil when it succeeded.
    public var musterError: MusterError? {
        guard !ok else { return nil }
        var error = MusterError(MusterError.Code(rawValue: code ?? "") ?? .serviceFailed, self.error ?? "failed")
        error.details = details ?? []
        return error
    }
}

/// The JSON coding the control API uses: snake_case keys, sorted.
public enum ControlJSON {
    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: data)
    }
}

public enum DatabaseAction: String, Sendable, CaseIterable {
    case snapshot, restore, clone, list, keep, drop
}

/// `POST /v1/db/{snapshot,restore,clone,keep,drop}` and `GET /v1/db/snapshots?service=S`.
public struct DatabaseRequest: Codable, Sendable, Equatable {
    public var service: String
    /// Default: the service's first database.
    public var database: String?
    /// Default: `default`.
    public var name: String?
    /// clone: how many copies, named `DATABASE_gw0` ... like pytest-xdist's workers.
    public var count: Int?
    /// keep: the test the database is kept for; it is kept as `DATABASE_failed_TEST` (made unique).
    public var test: String?
    /// keep: the exact name to keep it as (refused when a database has it).
    public var keepAs: String?

    public init(
        service: String, database: String? = nil, name: String? = nil, count: Int? = nil,
        test: String? = nil, keepAs: String? = nil
    ) {
        self.test = test
        self.keepAs = keepAs
        self.service = service
        self.database = database
        self.name = name
        self.count = count
    }
}

/// `POST /v1/start|stop|restart`.
public enum ControlAction: String, Sendable, CaseIterable {
    case start, stop, restart
}
