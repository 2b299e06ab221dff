import Foundation

/// How a reset in place puts the changed tables back (see `DatabaseReset`): by row
/// where it can, whole (truncated and copied from the source, with every table whose
/// foreign keys reach it) where it cannot.
struct ReloadPlan {
    struct ByRow {
        var table: ResetTable
        /// Rows inserted since the baseline.
        var inserted: Int
        /// Whether rows were updated or deleted since (then the keys are compared).
        var removedOriginals: Bool
    }

    var whole: [ResetTable]
    var byRow: [ByRow]

    /// Nil when a whole copy is needed: a table the source does not know, a table to
    /// reload whole that is not an ordinary table, has triggers that would fire, or
    /// makes the reload too big.
    init?(
        changed: [String], now: [String: DatabaseReset.TableCounts], baseline: [String: DatabaseReset.TableCounts],
        tables: [String: ResetTable]
    ) {
        var rowOids: [String] = []
        var queue: [String] = []
        for oid in changed {
            guard let table = tables[oid], let counts = now[oid], let before = baseline[oid] else { return nil }
            if table.reloadsByRow, counts.file == before.file, counts.inserted >= before.inserted,
                counts.updated >= before.updated, counts.deleted >= before.deleted
            {
                rowOids.append(oid)
            } else {
                queue.append(oid)
            }
        }
        // TRUNCATE needs every table whose foreign keys reach one it truncates.
        var closure = Set<String>()
        while let oid = queue.popLast() {
            guard closure.insert(oid).inserted else { continue }
            guard let table = tables[oid] else { return nil }
            queue += table.referencedBy
        }
        whole = closure.sorted().compactMap { tables[$0] }
        guard whole.allSatisfy({ $0.kind == "r" && $0.triggers == 0 }),
            whole.reduce(0, { $0 + $1.size }) <= DatabaseReset.reloadLimit
        else { return nil }
        byRow = rowOids.filter { !closure.contains($0) }.compactMap { oid in
            guard let table = tables[oid], let counts = now[oid], let before = baseline[oid] else { return nil }
            return ByRow(
                table: table, inserted: counts.inserted - before.inserted,
                removedOriginals: counts.updated > before.updated || counts.deleted > before.deleted)
        }
    }

    /// Opens the reset's transaction on `target` and puts the tables back (the caller
    /// commits); returns how many tables it wrote to. `horizon`: the baseline's.
    /// `rows`: the source's rows of a table, with their keys.
    func run(
        on target: PostgresConnection, from source: PostgresConnection, horizon: UInt64,
        rows: (ResetTable) throws -> [BinaryCopy.Tuple], trace: ResetTrace?
    ) throws -> Int {
        var sql = "BEGIN; SET LOCAL session_replication_role = replica"
        if !whole.isEmpty { sql += "; TRUNCATE " + whole.map { "ONLY \($0.name)" }.joined(separator: ", ") }
        if !byRow.isEmpty {
            // Written since the baseline: an xmin at or past the horizon (transaction ids wrap at 2^32).
            let newer = "(xmin::text::bigint - \(horizon & 0xFFFF_FFFF) + 4294967296) % 4294967296 < 2147483648"
            sql +=
                "; WITH "
                + byRow.enumerated().map {
                    "d\($0.offset) AS (DELETE FROM ONLY \($0.element.table.name) WHERE \(newer) RETURNING 1)"
                }.joined(separator: ", ")
                + " SELECT " + byRow.indices.map { "(SELECT count(*) FROM d\($0))::text" }.joined(separator: ", ")
        }
        let deleted = try target.query(sql).first ?? []
        trace?.mark("delete")
        for table in whole {
            let data = try source.copyOut("COPY \(table.name) (\(table.copyColumns)) TO STDOUT (FORMAT binary)")
            try target.copyIn("COPY \(table.name) (\(table.copyColumns)) FROM STDIN (FORMAT binary)", data)
        }
        trace?.mark("whole\(whole.count)")
        for (index, entry) in byRow.enumerated() {
            let count = (index < deleted.count ? deleted[index].flatMap { Int($0) } : nil) ?? .max
            // Only rows inserted since, all of them gone now: nothing of the snapshot is missing.
            guard entry.removedOriginals || count > entry.inserted else { continue }
            let table = entry.table
            let keys = table.key.map { table.columns[$0] }.joined(separator: ", ")
            let present = Set(
                try BinaryCopy.tuples(
                    target.copyOut("COPY (SELECT \(keys) FROM ONLY \(table.name)) TO STDOUT (FORMAT binary)"),
                    key: Array(table.key.indices)
                ).map(\.key))
            let missing = try rows(table).filter { !present.contains($0.key) }
            if !missing.isEmpty {
                try target.copyIn(
                    "COPY \(table.name) (\(table.copyColumns)) FROM STDIN (FORMAT binary)", BinaryCopy.data(missing))
            }
            trace?.mark("rows\(missing.count)")
        }
        return whole.count + byRow.count
    }
}
