import Foundation

/// How `DatabaseDesk` keeps the pools of ready copies full, always on the pool's turn
/// (`DatabaseTurns.poolKey`), never on a database's: restores go on taking ready copies
/// meanwhile, and a snapshot retaken waits for the copy in flight, then drops it with
/// the other ready copies of the snapshot it replaces.
extension DatabaseDesk {
    /// Who a fill of a pool is for, which sets its priority.
    enum PoolFillPriority: Sendable {
        /// After a restore, a keep, a clone or a snapshot: a restore may soon wait for it.
        /// The snapshot's source (what restores in place read) is made first; a copy into
        /// an empty pool runs at the Postgres backend's own priority (on a busy machine
        /// the lowest starves it), copies ahead of need at the lowest; a restore that finds
        /// the pool empty waits for this fill's copy rather than make one beside it.
        case refill
        /// After `up` found a keyed snapshot current (a cache entry carries no ready
        /// copies, and a restored snapshot used one): never in the time `up` waits for,
        /// every copy at the lowest priority; a restore that comes first finds the pool
        /// short and makes its copy itself, as with any empty pool.
        case background
    }

    /// Fills `database`'s pool of ready copies of `template` up to `size` in the
    /// background, and drops `old` (what a restore swapped out) once the first turn is
    /// done. Each copy is made on the pool's turn, the pool read again on it: a snapshot
    /// retaken meanwhile waits for one copy only (at the lowest priority a copy may take
    /// long), and every copy made after it is of the new snapshot.
    nonisolated func fillPool(
        of database: String, template: String, size: Int, dropping old: String? = nil,
        priority: PoolFillPriority, connect: @escaping @Sendable () throws -> PostgresConnection
    ) {
        let refills = self.refills
        // Unstructured on purpose: the answer, or `up`, goes on; the supervisor's exit ends it.
        Task.detached(priority: priority == .background ? .background : nil) {
            if priority == .refill { refills.begin(database) }
            defer { if priority == .refill { refills.end(database) } }
            let kept = SourceConnections()  // the fill's connections, kept between its turns
            let lowest = { @Sendable () throws -> PostgresConnection in
                let admin = try connect()
                Self.lowerPriority(of: admin)
                return admin
            }
            // The connection that reads the pool and drops `old`: at the fill's own priority.
            let (own, openOwn) = priority == .refill ? ("own", connect) : ("lowest", lowest)
            var old = old
            var first = true
            while true {
                // What restores in place read, made before a refill's first copy.
                let makingSource = first && priority == .refill
                first = false
                let copied = try? await self.locked(DatabaseTurns.poolKey(template)) { () throws -> Bool in
                    let admin = try kept.borrow(own, open: openOwn)
                    let made = try Self.copyIfShort(
                        database, template: template, size: size, priority: priority, makingSource: makingSource,
                        db: DatabaseSnapshots(admin: admin)
                    ) {
                        let background = try kept.borrow("lowest", open: lowest)
                        defer { kept.giveBack("lowest", background) }
                        return try $0(DatabaseSnapshots(admin: background))
                    }
                    kept.giveBack(own, admin)
                    return made
                }
                if let trash = old {  // after the first copy: the pool's first, then the disk's space
                    old = nil
                    _ = try? await self.blocking {
                        let db = DatabaseSnapshots(admin: try kept.borrow(own, open: openOwn))
                        try db.drop(trash)
                        kept.giveBack(own, db.admin)
                    }
                }
                if copied != true { break }
            }
        }
    }

    /// One turn of a fill: one more copy into `database`'s pool when it holds fewer
    /// than `size` (true). Through `db` (at the fill's own priority) into an empty pool
    /// or for a background fill; a refill's copies ahead of need through the connection
    /// at the lowest priority that `lowest` lends.
    private static func copyIfShort(
        _ database: String, template: String, size: Int, priority: PoolFillPriority, makingSource: Bool,
        db: DatabaseSnapshots, lowest: ((DatabaseSnapshots) throws -> Void) throws -> Void
    ) throws -> Bool {
        guard try db.exists(template) else { return false }
        if makingSource { try db.ensureSource(of: template) }
        let ready = try db.spares(for: database, snapshot: template).count
        guard ready < size else { return false }
        let owner = try db.owner(of: database)
        if ready == 0 || priority == .background {
            try db.addSpare(for: database, snapshot: template, owner: owner)
        } else {
            try lowest { try $0.addSpare(for: database, snapshot: template, owner: owner) }
        }
        return true
    }

    /// Puts the Postgres backend behind `admin` at the lowest CPU priority (nice 19),
    /// so copies for the pools yield to the tests; where that is not allowed, the copy
    /// runs at the backend's own priority.
    static func lowerPriority(of admin: PostgresConnection) {
        guard admin.backendPid > 0 else { return }  // known from the login: no query
        ProcessPriority.setNice(19, of: id_t(admin.backendPid))
    }
}

/// Which pools a refill is queued or copying for, read by restores that found their
/// pool empty: they wait for that copy rather than make a second one beside it.
final class RefillsUnderWay: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    func begin(_ database: String) { lock.withLock { counts[database, default: 0] += 1 } }

    func end(_ database: String) {
        lock.withLock {
            counts[database, default: 1] -= 1
            if counts[database] == 0 { counts[database] = nil }
        }
    }

    func contains(_ database: String) -> Bool { lock.withLock { counts[database] != nil } }
}
