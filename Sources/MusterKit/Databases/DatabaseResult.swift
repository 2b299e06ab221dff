import Foundation

/// What `DatabaseDesk` answers for one operation (`/v1/db/*`, `muster db ...`).
public struct DatabaseResult: Codable, Sendable {
    public var ok: Bool
    public var code: String?
    public var error: String?
    public var snapshot: DatabaseSnapshots.Snapshot?
    public var snapshots: [DatabaseSnapshots.Snapshot]?
    /// list: the failed tests' databases kept.
    public var kept: [DatabaseSnapshots.KeptDatabase]?
    /// list: keyed snapshots set aside for going back to their key (`KeyedSnapshots`).
    public var keyed: [DatabaseSnapshots.KeyedSnapshot]?
    /// The databases restored, cloned, kept (the kept name) or dropped.
    public var databases: [String]?
    /// Client sessions that were ended on the databases touched.
    public var endedSessions: Int?
    public var elapsedMs: Double?
    /// restore: the pool was empty, so the copy was made in the caller's time; how long it took.
    public var waitedMs: Double?
    /// restore: reset in place (no copy swapped in); how many tables were reloaded.
    public var resetTables: Int?

    init(ok: Bool = true) { self.ok = ok }

    init(_ error: MusterError) {
        ok = false
        code = error.code.rawValue
        self.error = error.headline
    }
}
