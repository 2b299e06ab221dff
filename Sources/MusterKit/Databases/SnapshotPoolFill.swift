import Foundation

/// The pool of ready copies made again after `up` found a keyed snapshot current: a
/// cache entry carries no ready copies, and a restored snapshot used one, so the copies
/// are made in the background once the task counts as skipped, at the lowest CPU
/// priority, never in the time `up` waits for. A restore that comes first finds the
/// pool short and makes its copy itself, as with any empty pool.
enum SnapshotPoolFill {
    /// Copies spares of `template` for `database` until its pool holds `size`, then
    /// drops `old` (what a restore swapped out). Stops when the snapshot was retaken
    /// meanwhile (its template has another oid): a copy of the old one is dropped.
    static func start(
        database: String, template: String, size: Int, dropping old: String?,
        connect: @escaping @Sendable () throws -> PostgresConnection
    ) {
        // Unstructured on purpose: `up` goes on; the supervisor's exit ends it.
        Task.detached(priority: .background) {
            _ = await offload { () -> Result<Void, Error> in
                Result {
                    let admin = try connect()
                    DatabaseDesk.lowerPriority(of: admin)
                    let db = DatabaseSnapshots(admin: admin)
                    let oidQuery = "SELECT oid FROM pg_database WHERE datname = \(admin.literal(template))"
                    let oid = try admin.value(oidQuery)
                    let owner = try db.owner(of: database)
                    while oid != nil, try db.spares(for: database, snapshot: template).count < size {
                        let spare = try db.addSpare(for: database, snapshot: template, owner: owner)
                        guard try admin.value(oidQuery) == oid else {
                            try db.drop(spare)
                            break
                        }
                    }
                    if let old { try db.drop(old) }
                }
            }
        }
    }
}
