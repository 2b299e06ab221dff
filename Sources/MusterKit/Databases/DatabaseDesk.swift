import Foundation

/// Orders database operations of a running stack. Operations on one database run
/// one after the other; operations on different databases run at the same time.
/// Pools are refilled in the background, one copy at a time per snapshot (the pools
/// of a database and of its clones queue behind one another, and behind or before the
/// snapshot's retake: `DatabaseTurns`), never holding a database's turn: a restore
/// takes a ready copy while the next one is being made (`DatabasePools.swift`).
/// A copy into an empty pool runs at the Postgres backend's own priority (a restore
/// may be waiting for it: on a busy machine the lowest priority starves it); copies
/// made ahead of need run at the lowest CPU priority.
public actor DatabaseDesk {
    private let stack: StackSpec
    private let paths: ProjectPaths
    private let outputs: [String: [String: String]]
    /// The turns of its databases and pools (`locked`).
    nonisolated let turns = DatabaseTurns()
    /// The databases whose pool a refill is queued or copying for.
    let refills = RefillsUnderWay()
    /// What restores in place compare against.
    private let baselines = ResetBaselines()
    private let sources = SourceConnections()
    /// Admin connections for restores, kept between them.
    private let admins = SourceConnections()

    public init(stack: StackSpec, paths: ProjectPaths, outputs: [String: [String: String]]) {
        self.stack = stack
        self.paths = paths
        self.outputs = outputs
    }

    public func perform(_ action: DatabaseAction, _ request: DatabaseRequest) async -> DatabaseResult {
        let started = ContinuousClock.now
        do {
            var result = try await run(action, request)
            let elapsed = (ContinuousClock.now - started).components
            result.elapsedMs =
                (Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds) / 1e15 * 1000).rounded() / 1000
            return result
        } catch let error as MusterError {
            return DatabaseResult(error)
        } catch {
            return DatabaseResult(MusterError(.serviceFailed, "\(action.rawValue) failed: \(error)"))
        }
    }

    private func run(_ action: DatabaseAction, _ request: DatabaseRequest) async throws -> DatabaseResult {
        let target = try resolve(request)
        let connect = target.connect
        let refills = self.refills
        let spares = target.spares
        let name = request.name ?? "default"
        var result = DatabaseResult()
        switch action {
        case .list:
            result.snapshots = try await blocking {
                let db = try DatabaseSnapshots(admin: connect())
                return try db.list().map { snapshot in
                    var snapshot = snapshot
                    let size = spares
                    snapshot.pools = try db.pools(of: snapshot.template, database: snapshot.database)
                        .map { .init(database: $0.database, ready: $0.ready, size: size) }
                    return snapshot
                }
            }.filter { request.database == nil || $0.database == request.database }
            result.kept = try await blocking { try DatabaseSnapshots(admin: connect()).keptList() }
                .filter { request.database == nil || $0.database == request.database }
            result.keyed = try await blocking {
                try DatabaseSnapshots(admin: connect()).keyedList(database: request.database)
            }
        case .snapshot:
            try Self.checkName(name)
            let database = target.database
            // The pool's turn too: no spare of the snapshot being replaced may be in the making.
            let (snapshot, ended) = try await locked(
                database, DatabaseTurns.poolKey(DatabaseSnapshots.snapshotDatabase(of: database, name: name))
            ) {
                try DatabaseSnapshots(admin: connect()).snapshot(database, name: name)
            }
            result.snapshot = snapshot
            result.endedSessions = ended
            fillPool(of: database, template: snapshot.template, size: spares, priority: .refill, connect: connect)
        case .restore:
            let database = target.database
            let baselines = self.baselines
            let connectTo = target.connectTo
            let sources = self.sources
            let (service, snapshotName) = (target.service, request.name)
            let admins = self.admins
            // In place when only rows changed since the last restore; else a copy from the pool.
            let (ended, old, waited, reloaded, template) = try await locked(database) {
                () throws -> (Int, String?, Double?, Int?, String) in
                let admin = try admins.borrow("admin") { try connect() }
                let db = DatabaseSnapshots(admin: admin)
                let taken = baselines.take(database)
                // The baseline's snapshot unless another is named (the reset checks its source is still there).
                let wanted =
                    try taken.flatMap { snapshotName == nil ? $0.0.template : nil }
                    ?? Self.template(for: database, name: snapshotName, in: db, service: service)
                let reset = DatabaseReset(admin: admin, connect: connectTo, pool: sources, known: baselines)
                if let (baseline, kept) = taken {
                    var kept = kept
                    if baseline.template == wanted,
                        let sequences = try? baselines.sequences(
                            source: baseline.source, read: { try reset.sequences(of: wanted) })
                    {
                        let outcome = try? reset.reset(database, baseline: baseline, kept: kept, sequences: sequences)
                        kept = nil  // the reset closed it, or hands it back
                        if let done = outcome {
                            baselines.set(database, done.baseline, connection: done.connection)
                            admins.giveBack("admin", admin)
                            return (done.ended, nil, nil, done.tables, wanted)
                        }
                    }
                    kept?.close()
                }
                let template = try Self.template(for: database, name: snapshotName, in: db, service: service)
                // Read before the swap: every session on the copy swapped in has later transaction ids.
                let horizon = try? DatabaseReset.horizon(of: admin)
                let swapped = try db.swapIn(database, snapshot: template, refilling: { refills.contains(database) })
                let pristine = try? reset.pristineBaseline(of: database, template: template, horizon: horizon)
                baselines.set(database, pristine?.0, connection: pristine?.1)
                admins.giveBack("admin", admin)
                return (swapped.ended, swapped.old, swapped.waitedMs, nil, template)
            }
            result.databases = [database]
            result.endedSessions = ended
            result.waitedMs = waited
            result.resetTables = reloaded
            if reloaded == nil {
                fillPool(
                    of: database, template: template, size: spares, dropping: old, priority: .refill, connect: connect)
            }
        case .keep:
            let database = target.database
            let template = try await blocking {
                try Self.template(
                    for: database, name: request.name, in: DatabaseSnapshots(admin: connect()), service: target.service)
            }
            let service = target.service
            let baselines = self.baselines
            let connectTo = target.connectTo
            if let exact = request.keepAs { try Self.checkDatabaseName(exact) }  // before anything changes
            let (ended, kept, waited) = try await locked(database) { () throws -> (Int, String, Double?) in
                let db = try DatabaseSnapshots(admin: connect())
                baselines.set(database, nil)
                guard try db.exists(database) else {
                    throw MusterError(
                        .usage, "database \(database) does not exist in service \(service); there is nothing to keep")
                }
                let name: String
                if let exact = request.keepAs {
                    guard try !db.exists(exact) else {
                        // `db drop` removes only what muster kept: suggest it only for that.
                        let kept = try db.note(of: exact)?.muster == "kept"
                        throw MusterError(
                            .usage,
                            "database \(exact) exists in service \(service); keep \(database) under another name (--as NAME)"
                                + (kept
                                    ? ", or drop the kept \(exact) first with muster db drop \(service) \(exact)" : "")
                        )
                    }
                    name = exact
                } else {
                    name = try DatabaseSnapshots.keptName(
                        for: database, test: request.test ?? "test", isTaken: db.exists)
                }
                let note = DatabaseSnapshots.Note(
                    muster: "kept", database: database, name: request.test ?? name, taken: EventLog.timestamp(Date()))
                let horizon = try? DatabaseReset.horizon(of: db.admin)
                let swapped = try db.swapIn(
                    database, snapshot: template, keeping: (name, note), refilling: { refills.contains(database) })
                let pristine = try? DatabaseReset(admin: db.admin, connect: connectTo).pristineBaseline(
                    of: database, template: template, horizon: horizon)
                baselines.set(database, pristine?.0, connection: pristine?.1)
                return (swapped.ended, name, swapped.waitedMs)
            }
            result.databases = [kept]
            result.endedSessions = ended
            result.waitedMs = waited
            fillPool(of: database, template: template, size: spares, priority: .refill, connect: connect)
        case .drop:
            let name = target.database
            let service = target.service
            result.endedSessions = try await locked(name) {
                let db = try DatabaseSnapshots(admin: connect())
                guard try db.note(of: name)?.muster == "kept" else {
                    let kept = try db.keptList().map(\.name)
                    throw MusterError(
                        .usage,
                        "\(name) is not a database muster kept in service \(service) (muster db drop drops only those); kept: \(kept.isEmpty ? "none" : kept.joined(separator: ", "))"
                    )
                }
                let ended = try db.endSessions(on: name)
                try db.drop(name)
                return ended
            }
            result.databases = [name]
        case .clone:
            let count = request.count ?? 1
            guard (1...64).contains(count) else { throw MusterError(.usage, "--count must be 1 to 64, not \(count)") }
            let base = target.database
            let template = try await blocking {
                try Self.template(
                    for: base, name: request.name, in: DatabaseSnapshots(admin: connect()), service: target.service)
            }
            var ended = 0
            var made: [String] = []
            for index in 0..<count {
                let clone = "\(base)_gw\(index)"
                ended += try await locked(clone) {
                    let db = try DatabaseSnapshots(admin: connect())
                    if try db.exists(clone) {
                        guard try db.note(of: clone)?.muster == "clone" else {
                            throw MusterError(
                                .usage,
                                "database \(clone) exists and is not a clone muster made; drop it or clone another database"
                            )
                        }
                        let sessions = try db.endSessions(on: clone)
                        try db.drop(clone)
                        try db.copy(
                            template, to: clone, owner: try db.owner(of: base),
                            note: .init(muster: "clone", database: base, name: template))
                        return sessions
                    }
                    try db.copy(
                        template, to: clone, owner: try db.owner(of: base),
                        note: .init(muster: "clone", database: base, name: template))
                    return 0
                }
                made.append(clone)
                fillPool(of: clone, template: template, size: spares, priority: .refill, connect: connect)
            }
            result.databases = made
            result.endedSessions = ended
        }
        return result
    }

    struct Target {
        var service: String
        var database: String
        var connect: @Sendable () throws -> PostgresConnection
        /// The same, to another database of the cluster.
        var connectTo: @Sendable (String) throws -> PostgresConnection
        /// The size of each pool of the service's snapshots.
        var spares: Int
    }

    private func resolve(_ request: DatabaseRequest) throws -> Target {
        let postgres = stack.services.filter { $0.engine?.kind == .postgres }
        guard let service = postgres.first(where: { $0.name == request.service }), let engine = service.engine else {
            let names = postgres.map(\.name)
            throw MusterError(
                .usage,
                "\"\(request.service)\" is not a Postgres service of this stack; Postgres services: \(names.isEmpty ? "none" : names.joined(separator: ", "))"
            )
        }
        let database = request.database ?? engine.databases.first ?? "postgres"
        try Self.checkDatabaseName(database)
        guard let port = outputs[service.name]?["port"] else {
            throw MusterError(.notRunning, "service \(service.name) has no port yet; start it first")
        }
        let socketDir = PostgresEngine.socketDirectory(paths: paths, service: service.name)
        let conninfo =
            "host=\(PostgresConnection.conninfoValue(socketDir)) port=\(port) user=postgres connect_timeout=5 application_name=muster"
        let open: @Sendable (String) throws -> PostgresConnection = { database in
            let connection = try PostgresConnection(conninfo + " dbname=" + PostgresConnection.conninfoValue(database))
            connection.statementTimeout = PostgresConnection.provisioningTimeout
            return connection
        }
        return Target(
            service: service.name, database: database, connect: { try open("postgres") }, connectTo: open,
            spares: engine.snapshot?.spares ?? SnapshotSpec.defaultSpares)
    }

    static func checkDatabaseName(_ database: String) throws {
        // Postgres cuts longer names to 63 bytes: a restore must never reach another database.
        guard !database.isEmpty, database.utf8.count <= DatabaseSnapshots.nameLimit, !database.utf8.contains(0) else {
            throw MusterError(
                .usage,
                "database \(ControlRequests.shown(database)) is not a Postgres database name (1 to 63 bytes, no NUL); give one of at most 63 bytes"
            )
        }
        guard !database.hasPrefix("muster_") else {
            throw MusterError(
                .usage,
                "\(database) is one of muster's own databases (snapshots and spares); name the database they stand for")
        }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else {
            throw MusterError(
                .usage, "snapshot name \(ControlRequests.shown(name)) must be 1 to 40 letters, digits, '-', '_' or '.'")
        }
    }

    /// The snapshot a restore or clone copies: the named one of `database`, or for a
    /// clone (`shop_gw1`) the snapshot it was cloned from.
    static func template(for database: String, name: String?, in db: DatabaseSnapshots, service: String) throws
        -> String
    {
        var base = database
        let note = try db.note(of: database)
        if let note, note.muster == "kept" {
            throw MusterError(
                .usage,
                "\(database) is a failed test's database muster kept (for \(note.name)); it is never restored over: drop it with muster db drop \(service) \(database)"
            )
        }
        if let note, note.muster == "clone" {
            if name == nil, try db.exists(note.name) { return note.name }
            base = note.database
        }
        let template = DatabaseSnapshots.snapshotDatabase(of: base, name: name ?? "default")
        guard try db.exists(template) else {
            let existing = try db.list().map { "\($0.database)/\($0.name)" }
            throw MusterError(
                .usage,
                "no snapshot \"\(name ?? "default")\" of database \(base) in service \(service); snapshots: \(existing.isEmpty ? "none" : existing.joined(separator: ", ")) (take one with muster db snapshot \(service) --database \(base))"
            )
        }
        return template
    }

    // MARK: - Ordering

    /// Runs `body` off the actor holding the turns of `keys` (taken in that order).
    nonisolated func locked<T: Sendable>(_ keys: String..., body: @escaping @Sendable () throws -> T) async throws
        -> T
    {
        for key in keys { await turns.acquire(key) }
        defer { keys.reversed().forEach(turns.release) }
        return try await blocking(body)
    }

    nonisolated func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await offload { Result { try body() } }.get()
    }
}
