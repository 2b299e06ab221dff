import Foundation

/// Open connections kept between resets (a new one costs a server process): taken by
/// one reset at a time, given back only after a success.
final class SourceConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [String: [PostgresConnection]] = [:]

    func borrow(_ key: String, open: () throws -> PostgresConnection) throws -> PostgresConnection {
        if let connection = lock.withLock({ idle[key]?.popLast() }) { return connection }
        return try open()
    }

    func giveBack(_ key: String, _ connection: PostgresConnection) {
        lock.withLock {
            // A retaken snapshot's source has another oid, so another key: its connections are dropped.
            idle = idle.filter {
                $0.key == key || !$0.key.hasPrefix(key.split(separator: "/").first.map(String.init) ?? key)
            }
            if idle[key, default: []].count < 8 { idle[key, default: []].append(connection) }
        }
    }
}

/// What the restores of one stack know between calls: each database's baseline and
/// the connection the last reset left open on it, and of each snapshot source (nothing
/// writes to one) its sequences, its tables and the rows of the tables reloaded by row.
final class ResetBaselines: @unchecked Sendable {
    private let lock = NSLock()
    private var baselines: [String: DatabaseReset.Baseline] = [:]
    private var connections: [String: PostgresConnection] = [:]
    private var sequences: [String: [DatabaseReset.SequenceValue]] = [:]
    private var tables: [String: [String: ResetTable]] = [:]
    private var rows: [String: SourceRows] = [:]
    private var rowBytes = 0

    /// Above this many bytes of source rows kept, the oldest source's rows are let go.
    static let rowsLimit = 64 << 20

    /// Removes and returns `database`'s baseline and connection (a restore puts back what it leaves).
    func take(_ database: String) -> (DatabaseReset.Baseline, PostgresConnection?)? {
        lock.withLock {
            guard let baseline = baselines.removeValue(forKey: database) else {
                connections.removeValue(forKey: database)?.close()
                return nil
            }
            return (baseline, connections.removeValue(forKey: database))
        }
    }

    /// Sets `database`'s baseline (nil: none) and the connection open on it; a connection replaced is closed.
    func set(_ database: String, _ baseline: DatabaseReset.Baseline?, connection: PostgresConnection? = nil) {
        let old: PostgresConnection? = lock.withLock {
            baselines[database] = baseline
            let old = connections[database]
            connections[database] = baseline == nil ? nil : connection
            return old === connection ? nil : old
        }
        old?.close()
        if baseline == nil { connection?.close() }
    }

    /// The sequences of a source, read once.
    func sequences(source: String, read: () throws -> [DatabaseReset.SequenceValue]) throws -> [DatabaseReset
        .SequenceValue]
    {
        try once(source, in: \.sequences, read: read)
    }

    /// The tables of a source, read once.
    func tables(source: String, read: () throws -> [String: ResetTable]) throws -> [String: ResetTable] {
        try once(source, in: \.tables, read: read)
    }

    /// What `store` holds for a source, read and kept the first time it is asked for.
    private func once<Value>(
        _ source: String, in store: ReferenceWritableKeyPath<ResetBaselines, [String: Value]>, read: () throws -> Value
    ) throws -> Value {
        if let known = lock.withLock({ self[keyPath: store][source] }) { return known }
        let value = try read()
        lock.withLock { self[keyPath: store][source] = value }
        return value
    }

    /// The rows of one table of a source, read once (while they fit under `rowsLimit`).
    func rows(source: String, table: String, read: () throws -> [BinaryCopy.Tuple]) throws -> SourceRows {
        let key = source + "/" + table
        if let known = lock.withLock({ rows[key] }) { return known }
        let values = SourceRows(try read())
        let size = values.bytes
        lock.withLock {
            // Another source's rows (a retaken snapshot) go first, then everything once past the limit.
            if rowBytes + size > Self.rowsLimit { rows = rows.filter { $0.key.hasPrefix(source + "/") } }
            if rowBytes + size > Self.rowsLimit { rows = [:] }
            rowBytes = rows.values.reduce(0) { $0 + $1.bytes }
            if size <= Self.rowsLimit {
                rows[key] = values
                rowBytes += size
            }
        }
        return values
    }
}
