import Foundation

/// How `DatabaseDesk` keeps the pools of ready copies full, always on the pool's turn
/// (`DatabaseTurns.poolKey`), never on a database's: restores go on taking ready copies
/// meanwhile, and a snapshot retaken waits for the copy in flight, then drops it with
/// the other ready copies of the snapshot it replaces.
extension DatabaseDesk {
    /// Drops what a restore swapped out and fills `database`'s pool back up to its size,
    /// in the background, holding the pool's turn until it is full.
    func refill(
        _ database: String, template: String, connect: @escaping @Sendable () throws -> PostgresConnection,
        size: Int, dropping old: String? = nil
    ) {
        // Unstructured on purpose: the answer goes out now.
        Task {
            let refills = self.refills
            refills.begin(database)
            defer { refills.end(database) }
            _ = try? await self.locked(DatabaseTurns.poolKey(template)) {
                let db = try DatabaseSnapshots(admin: connect())
                var background: DatabaseSnapshots?
                var old = old
                guard try db.exists(template) else { return }
                try db.ensureSource(of: template)  // what restores in place read
                let owner = try db.owner(of: database)
                while try db.spares(for: database, snapshot: template).count < size {
                    // Into an empty pool at the backend's own priority (a restore may be
                    // waiting for it); ahead of need at the lowest.
                    if try db.spares(for: database, snapshot: template).isEmpty {
                        try db.addSpare(for: database, snapshot: template, owner: owner)
                    } else {
                        if background == nil {
                            let admin = try connect()
                            Self.lowerPriority(of: admin)
                            background = DatabaseSnapshots(admin: admin)
                        }
                        try background?.addSpare(for: database, snapshot: template, owner: owner)
                    }
                    if let trash = old { try db.drop(trash); old = nil }  // after the first copy
                }
                if let trash = old { try db.drop(trash) }
            }
        }
    }

    /// The pool made again after `up` found a keyed snapshot current: a cache entry
    /// carries no ready copies, and a restored snapshot used one. Copies spares of
    /// `template` for `database` until its pool holds `size`, then drops `old` (what the
    /// restore swapped out). In the background once the task counts as skipped, never in
    /// the time `up` waits for, by a Postgres backend at the lowest CPU priority. Unlike
    /// a refill it takes the pool's turn for one copy at a time (at nice 19 a copy may
    /// take long: a snapshot retaken meanwhile waits for one copy only); a restore that
    /// comes first finds the pool short and makes its copy itself, as with any empty pool.
    nonisolated func fillPool(
        of database: String, template: String, size: Int, dropping old: String?,
        connect: @escaping @Sendable () throws -> PostgresConnection
    ) {
        // Unstructured on purpose: `up` goes on; the supervisor's exit ends it.
        Task.detached(priority: .background) {
            let kept = SourceConnections()  // the one backend at nice 19, kept between turns
            let open = { @Sendable () throws -> PostgresConnection in
                let admin = try connect()
                Self.lowerPriority(of: admin)
                return admin
            }
            var full = false
            while !full {
                // Each copy on the pool's turn, the pool's size read again on it.
                let copied = try? await self.locked(DatabaseTurns.poolKey(template)) { () throws -> Bool in
                    let admin = try kept.borrow("fill", open: open)
                    let db = DatabaseSnapshots(admin: admin)
                    guard try db.exists(template), try db.spares(for: database, snapshot: template).count < size
                    else {
                        kept.giveBack("fill", admin)
                        return false
                    }
                    try db.addSpare(for: database, snapshot: template, owner: try db.owner(of: database))
                    kept.giveBack("fill", admin)
                    return true
                }
                full = copied != true
            }
            if let old {
                _ = try? await self.blocking { try DatabaseSnapshots(admin: kept.borrow("fill", open: open)).drop(old) }
            }
        }
    }

    /// Puts the Postgres backend behind `admin` at the lowest CPU priority (nice 19),
    /// so copies for the pools yield to the tests; where that is not allowed, the copy
    /// runs at the backend's own priority.
    static func lowerPriority(of admin: PostgresConnection) {
        guard let text = try? admin.value("SELECT pg_backend_pid()"), let pid = id_t(text) else { return }
        ProcessPriority.setNice(19, of: pid)
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
