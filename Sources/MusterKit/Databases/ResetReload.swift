import Foundation

/// How a reset in place puts the changed tables back (see `DatabaseReset`): by row
/// where it can, whole (truncated and copied from the source, with every table whose
/// foreign keys reach it) where it cannot.
struct ReloadPlan {
    struct ByRow {
        var table: ResetTable
        /// Rows inserted since the baseline.
        var inserted: Int
        /// Whether rows were updated or deleted since.
        var removedOriginals: Bool
        /// Whether rows were deleted since (then the keys left are compared with the source's).
        var deletedOriginals: Bool
        /// Whether rows were updated since.
        var updatedOriginals: Bool

        /// Whether any row may have been written since (inserted, or the new version of an
        /// update, aborted ones included: the counts include them). When rows were only
        /// deleted, no row has a new `xmin` and the delete that looks for them is left out.
        var wroteRows: Bool { inserted > 0 || updatedOriginals }
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
                removedOriginals: counts.updated > before.updated || counts.deleted > before.deleted,
                deletedOriginals: counts.deleted > before.deleted, updatedOriginals: counts.updated > before.updated)
        }
    }

    /// What the opening exchange leaves to copy in, and the rows it deleted and will insert.
    struct Reload {
        /// `COPY ... FROM STDIN` statements and their data.
        var copies: [(sql: String, data: [UInt8])] = []
        /// Per table oid: rows deleted and rows to insert (for the counts after the reset).
        var deleted: [String: Int] = [:]
        var inserted: [String: Int] = [:]
    }

    /// Opens the reset's transaction on `target` in one exchange (truncates the tables
    /// to reload whole, deletes the rows written since the baseline and reads their keys,
    /// counts or reads the keys left where originals may be missing) and returns what to
    /// copy in, before the caller commits. `horizon`: the baseline's. `rows`: the
    /// source's rows of a table, by key.
    ///
    /// The rows to put back: those deleted whose key the source has (originals updated,
    /// or deleted and inserted again), and, when the counts say rows were deleted, the
    /// source's keys missing from the table. When rows were only updated, the rows left
    /// (all originals, unchanged) and the keys put back must number the source's rows,
    /// or an update moved a key and the keys left are read and compared after all.
    func open(
        on target: PostgresConnection, from source: PostgresConnection, horizon: UInt64,
        rows: (ResetTable) throws -> SourceRows
    ) throws -> Reload {
        var reload = Reload()
        for table in whole {
            reload.copies.append(
                (
                    "COPY \(table.name) (\(table.copyColumns)) FROM STDIN (FORMAT binary)",
                    try source.copyOut("COPY \(table.name) (\(table.copyColumns)) TO STDOUT (FORMAT binary)")
                ))
        }
        // `session_replication_role = replica` for the session's life (`DatabaseReset.session`).
        var statements = ["BEGIN"]
        if !whole.isEmpty { statements.append("TRUNCATE " + whole.map { "ONLY \($0.name)" }.joined(separator: ", ")) }
        // Written since the baseline: an xmin at or past the horizon. `age` counts back from
        // this transaction modulo 2^32, so the comparison holds across the wrap of ids.
        let newer = "age(xmin) <= age('\(horizon & 0xFFFF_FFFF)'::xid)"
        // Where each table's delete's result will be (nil: no delete).
        var deletes: [Int?] = []
        for entry in byRow {
            guard entry.wroteRows else {
                deletes.append(nil)
                continue
            }
            deletes.append(statements.count)
            statements.append(
                "COPY (DELETE FROM ONLY \(entry.table.name) WHERE \(newer) RETURNING \(Self.keyColumns(of: entry.table))) TO STDOUT (FORMAT binary)"
            )
        }
        // Where originals may be missing: the rows left counted (with a key of one integer
        // column, their keys' XOR too), or, with another key and rows deleted, all keys read.
        let countsAt = statements.count
        let counted = byRow.filter { $0.removedOriginals && ($0.table.integerKeyWidth > 0 || !$0.deletedOriginals) }
        if !counted.isEmpty {
            statements.append(
                "SELECT "
                    + counted.map {
                        let xor = $0.table.integerKeyWidth > 0 ? "bit_xor(\(Self.keyColumns(of: $0.table)))" : "NULL"
                        return "(SELECT concat_ws(' ', count(*), \(xor)) FROM ONLY \($0.table.name))"
                    }.joined(separator: ", "))
        }
        let scanned = byRow.filter { $0.deletedOriginals && $0.table.integerKeyWidth == 0 }
        statements += scanned.map { Self.keysCopy(of: $0.table) }
        let results = try target.exchange(statements.joined(separator: ";\n"))
        guard results.count == statements.count else {
            throw NetworkError("the reset's first statements did not all run")
        }
        let counts = counted.isEmpty ? [] : results[countsAt].rows.first ?? []
        var left: [String: Left] = [:]
        for (index, entry) in counted.enumerated() {
            let words = (index < counts.count ? counts[index] ?? "" : "").split(separator: " ")
            guard let count = words.first.flatMap({ Int($0) }) else {
                throw NetworkError("the reset could not count the rows of \(entry.table.name)")
            }
            left[entry.table.oid] = Left(count: count, xor: words.count == 2 ? Int64(words[1]) : nil)
        }
        var keys: [String: [UInt8]] = [:]
        for (index, entry) in scanned.enumerated() {
            keys[entry.table.oid] = results[results.count - scanned.count + index].copied
        }
        for (index, entry) in byRow.enumerated() {
            let table = entry.table
            let deleted = try deletes[index].map { try BinaryCopy.keyList(results[$0].copied) } ?? []
            reload.deleted[table.oid] = deleted.count
            let snapshot = try rows(table)
            var back: [BinaryCopy.Tuple]
            if let keys = keys[table.oid] {
                let present = try BinaryCopy.keys(keys)
                back = snapshot.tuples.filter { !present.contains($0.key) }
            } else {
                back = deleted.compactMap { snapshot.index[$0].map { snapshot.tuples[$0] } }
                if let left = left[table.oid] {
                    if let missing = left.missing(from: snapshot, besides: back, width: table.integerKeyWidth) {
                        back += missing
                    } else {
                        // Not told by the count (an update moved a key, or rows were deleted
                        // and no XOR names the one): compare the keys left (one exchange more).
                        let present = try BinaryCopy.keys(target.copyOut(Self.keysCopy(of: table)))
                        back = snapshot.tuples.filter { !present.contains($0.key) }
                    }
                }
            }
            guard !back.isEmpty else { continue }
            reload.copies.append(
                ("COPY \(table.name) (\(table.copyColumns)) FROM STDIN (FORMAT binary)", BinaryCopy.data(back)))
            reload.inserted[table.oid] = back.count
        }
        return reload
    }

    /// The rows left in a table after its rows written since the baseline were deleted
    /// (all originals, unchanged): their number, and with a key of one integer column the
    /// XOR of their keys.
    ///
    /// The source's rows missing from the table, M, are the keys put back already (the
    /// rows deleted whose key the source has: originals updated, or deleted and inserted
    /// again, all in M) and the rest. The count says how many the rest are, and the XOR of
    /// the source's keys, the keys left and the keys put back names the rest when it is
    /// one key: a test that deleted one row costs no read of the table's keys.
    struct Left {
        var count: Int
        var xor: Int64?

        /// The rest of M beyond `back`: empty when the counts add up, the one row named by
        /// the XOR, or nil when only reading the keys left can tell.
        func missing(from snapshot: SourceRows, besides back: [BinaryCopy.Tuple], width: Int) -> [BinaryCopy.Tuple]? {
            let rest = snapshot.tuples.count - count - back.count
            guard rest == 0 || rest == 1, let xor else { return xor == nil && rest == 0 ? [] : nil }
            guard let source = snapshot.keysXOR else { return nil }
            var named = xor ^ source
            for tuple in back {
                guard let key = BinaryCopy.integer(ofKey: tuple.key) else { return nil }
                named ^= key
            }
            if rest == 0 { return named == 0 ? [] : nil }
            guard let key = BinaryCopy.integerKey(named, width: width), let at = snapshot.index[key],
                !back.contains(where: { $0.key == key })
            else { return nil }
            return [snapshot.tuples[at]]
        }
    }

    static func keyColumns(of table: ResetTable) -> String {
        table.key.map { table.columns[$0] }.joined(separator: ", ")
    }

    /// The keys of a table's rows, as binary COPY.
    static func keysCopy(of table: ResetTable) -> String {
        "COPY (SELECT \(keyColumns(of: table)) FROM ONLY \(table.name)) TO STDOUT (FORMAT binary)"
    }
}
