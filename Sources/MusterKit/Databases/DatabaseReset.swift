import Foundation

/// A restore without a copy. Tests change a few rows of a few tables; copying the whole
/// database back (100 to 300 ms for 50 tables here, more than a test's own work) is
/// what made restores back to back wait for the pool. When Postgres' own counters say
/// only rows of ordinary tables changed since the database last equalled its snapshot,
/// the restore puts back just those rows, from a *source*, a copy of the snapshot that
/// nothing writes to, and sets every sequence back; anything else (the schema or any
/// catalog changed, the server restarted, the counters were reset, a trigger that fires
/// during the reload) falls back to swapping in a whole copy from the pool.
///
/// How a change is seen: each table's inserted, updated and deleted row counts and its
/// file (`TRUNCATE` gives a table a new one), the same counts over the database's own
/// catalogs (DDL, `COMMENT`, `GRANT`, large objects, temporary tables all write there)
/// but `pg_class`, whose rows `TRUNCATE` rewrites too: when its counts moved, every
/// column of it but where a relation's data lies and its sizes; the database's oid,
/// the server's start time, the counters' last reset and prepared transactions. Sessions
/// report their counts when they end, and the restore ends them all first; while it
/// works the database takes no new connections, so no write slips in between the reset
/// and the counts read after it. `track_counts = off` (superusers only) hides changes.
///
/// How rows are put back: the baseline remembers the next transaction id when the
/// database last equalled its snapshot (its *horizon*). In a changed table with a
/// primary key, every row whose `xmin` is at or past the horizon was written since
/// (inserted, or the new version of an update) and is deleted, its key returned; the
/// source's rows under those keys are copied back (binary COPY, the source's rows kept
/// in memory), and, when the counts say rows were deleted, the keys left are compared
/// with the source's for the rows missing (when rows were only updated, counting the
/// rows left tells whether an update moved a key). A table without a primary key, or one a test truncated, is reloaded whole
/// (with the tables whose foreign keys reach it). One transaction, on muster's own
/// session, which keeps `session_replication_role = replica` (foreign keys are not
/// checked half way) for its life: set per transaction, the setting threw away the
/// session's prepared plans twice per reset.
struct DatabaseReset {
    let admin: PostgresConnection
    /// Connects as muster's superuser to one database of the cluster.
    let connect: (String) throws -> PostgresConnection
    /// Open connections to sources, kept between resets.
    var pool = SourceConnections()
    /// What is known of each source.
    var known = ResetBaselines()

    /// The counters of a database that equals its snapshot.
    struct Baseline: Sendable, Equatable {
        /// The snapshot database and its source's oid (a retaken snapshot has a new source).
        var template: String
        var source: String
        var signature: Signature
    }

    struct Signature: Sendable, Equatable {
        /// The database's oid, the server's start, the counters' last reset, track_counts, prepared transactions.
        var database: String
        /// Rows changed in the database's own catalogs (statistics left out: ANALYZE writes them;
        /// pg_class left out: TRUNCATE writes it).
        var catalogChanges: Int
        /// Rows changed in pg_class.
        var classChanges: Int
        /// pg_class without its storage columns (relfilenode, sizes, frozen ids); read only when asked.
        var relations: String
        /// Each table's oid → its counts and file.
        var tables: [String: TableCounts]
        /// The next transaction id: every row written after this was read has an `xmin` at or past it.
        var horizon: UInt64
        /// Other client sessions on the database.
        var others: Int

        /// Nothing written since the database was made (a copy starts with no counts).
        var isPristine: Bool {
            catalogChanges == 0 && tables.values.allSatisfy { $0.inserted == 0 && $0.updated == 0 && $0.deleted == 0 }
        }

        /// The same database, schema and catalogs as `baseline` (`relations` compared only when this one has it).
        func sameSchema(as baseline: Signature) -> Bool {
            database == baseline.database && catalogChanges == baseline.catalogChanges
                && (classChanges == baseline.classChanges || relations == baseline.relations)
                && Set(tables.keys) == Set(baseline.tables.keys)
        }
    }

    struct TableCounts: Sendable, Equatable {
        var inserted: Int
        var updated: Int
        var deleted: Int
        var file: String
    }

    /// A sequence of the snapshot and the value a reset sets back.
    struct SequenceValue: Sendable, Equatable {
        var oid: String
        var lastValue: String
        var isCalled: Bool
    }

    /// Above this many bytes of tables to reload whole, a whole copy is as quick.
    static let reloadLimit = 64 << 20

    static func sourceName(of template: String) -> String { "muster_source_" + ProjectPaths.hash(template) }

    func sourceOid(of template: String) throws -> String? {
        try admin.value("SELECT oid FROM pg_database WHERE datname = \(admin.literal(Self.sourceName(of: template)))")
    }

    /// The next transaction id of the cluster (a horizon, see `Signature.horizon`).
    static func horizon(of connection: PostgresConnection) throws -> UInt64? {
        try connection.value("SELECT pg_snapshot_xmax(pg_current_snapshot())").flatMap { UInt64($0) }
    }

    /// The counts and facts a `Signature` holds (rows for `signature(from:)`).
    static let signatureSQL = """
        SELECT 'database', concat_ws('|', d.oid, pg_postmaster_start_time(), coalesce(pg_stat_get_db_stat_reset_time(d.oid)::text, '-'),
                   current_setting('track_counts'), (SELECT count(*) FROM pg_prepared_xacts p WHERE p.database = d.datname)),
               (SELECT coalesce(sum(pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid)), 0)
                FROM pg_class c WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' AND NOT c.relisshared
                  AND c.relname NOT IN ('pg_statistic', 'pg_statistic_ext_data', 'pg_class'))::text,
               (pg_stat_get_tuples_inserted('pg_class'::regclass) + pg_stat_get_tuples_updated('pg_class'::regclass)
                + pg_stat_get_tuples_deleted('pg_class'::regclass))::text,
               pg_snapshot_xmax(pg_current_snapshot())::text,
               (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname AND a.pid <> pg_backend_pid()
                  AND a.backend_type = 'client backend')::text
        FROM pg_database d WHERE d.datname = current_database()
        UNION ALL
        SELECT c.oid::text, pg_stat_get_tuples_inserted(c.oid)::text, pg_stat_get_tuples_updated(c.oid)::text,
               pg_stat_get_tuples_deleted(c.oid)::text, coalesce(pg_relation_filenode(c.oid)::text, ''), NULL
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 't', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
        """

    /// Makes `connection` the session a reset works on: replica role, set once (see above).
    static func session(_ connection: PostgresConnection) throws -> PostgresConnection {
        try connection.once("replica", "SET session_replication_role = replica")
        return connection
    }

    static func signature(of connection: PostgresConnection) throws -> Signature {
        try signature(from: connection.query(connection.execute("muster_reset_signature", signatureSQL)))
    }

    /// Run on the admin connection with the source's name, the database's name and the
    /// pid of muster's own session on it: the source's oid, and every other client
    /// session on the database told to end (their number).
    static let gateSQL = """
        SELECT (SELECT oid::text FROM pg_database WHERE datname = $1),
               (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = $2 AND pid <> pg_backend_pid() AND pid <> $3 AND backend_type = 'client backend')::text
        """

    /// With the database's name and muster's session's pid: the other client sessions left on it.
    static let othersSQL = """
        SELECT count(*)::text FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND pid <> $2 AND backend_type = 'client backend'
        """

    static func signature(from rows: [[String?]]) throws -> Signature {
        var signature = Signature(
            database: "", catalogChanges: -1, classChanges: -1, relations: "", tables: [:], horizon: 0, others: -1)
        for row in rows where row.count == 6 {
            guard let key = row[0], let value = row[1] else { continue }
            if key == "database" {
                signature.database = value
                signature.catalogChanges = Int(row[2] ?? "") ?? -1
                signature.classChanges = Int(row[3] ?? "") ?? -1
                signature.horizon = UInt64(row[4] ?? "") ?? 0
                signature.others = Int(row[5] ?? "") ?? -1
            } else {
                signature.tables[key] = TableCounts(
                    inserted: Int(value) ?? -1, updated: Int(row[2] ?? "") ?? -1, deleted: Int(row[3] ?? "") ?? -1,
                    file: row[4] ?? "")
            }
        }
        guard !signature.database.isEmpty, signature.catalogChanges >= 0, signature.classChanges >= 0,
            signature.horizon > 0
        else {
            throw NetworkError("the counters of the database could not be read")
        }
        return signature
    }

    /// pg_class without where a relation's data lies, its sizes and frozen ids.
    static func relations(of connection: PostgresConnection) throws -> String {
        try connection.value(
            """
            SELECT md5(string_agg(concat_ws(',', oid, relname, relnamespace, reltype, reloftype, relowner, relam, reltablespace,
                relhasindex, relisshared, relpersistence, relkind, relnatts, relchecks, relhasrules, relhastriggers,
                relhassubclass, relrowsecurity, relforcerowsecurity, relispopulated, relreplident, relispartition,
                relrewrite, relacl, reloptions, relpartbound), ';' ORDER BY oid)) FROM pg_class
            """) ?? ""
    }

    /// The baseline of a database just swapped in, when nothing has written to it yet and
    /// no one is on it, and the connection it was read on. `horizon`: read before the
    /// copy was swapped in (any session on it since has later transaction ids).
    func pristineBaseline(of database: String, template: String, horizon: UInt64?) throws -> (
        Baseline, PostgresConnection
    )? {
        guard let horizon, let source = try sourceOid(of: template) else { return nil }
        let connection = try Self.session(connect(database))
        var signature = try Self.signature(of: connection)
        signature.relations = try Self.relations(of: connection)
        signature.horizon = horizon
        guard signature.isPristine, signature.others == 0, signature.database.hasSuffix("|on|0") else {
            connection.close()
            return nil
        }
        return (Baseline(template: template, source: source, signature: signature), connection)
    }

    /// The snapshot's sequences and their values, read from its source.
    func sequences(of template: String) throws -> [SequenceValue] {
        let source = try connect(Self.sourceName(of: template))
        defer { source.close() }
        let names = try source.query(
            """
            SELECT c.oid::text, format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'S' ORDER BY c.oid
            """
        ).compactMap { row -> (String, String)? in
            guard row.count == 2, let oid = row[0], let name = row[1] else { return nil }
            return (oid, name)
        }
        guard !names.isEmpty else { return [] }
        let sql = names.map { "SELECT \($0.0)::text, last_value::text, is_called::text FROM \($0.1)" }.joined(
            separator: " UNION ALL ")
        return try source.query(sql).compactMap { row in
            guard row.count == 3, let oid = row[0], let value = row[1], let called = row[2] else { return nil }
            return SequenceValue(oid: oid, lastValue: value, isCalled: called == "true")
        }
    }

    /// What a reset did: the tables it wrote to, the sessions it ended, the new baseline
    /// (nil when another session got in meanwhile) and the connection it worked on.
    struct Outcome {
        var tables: Int
        var ended: Int
        var baseline: Baseline?
        var connection: PostgresConnection
    }

    /// Resets `database` in place to the snapshot `baseline` was taken from, on `kept`
    /// (the last reset's connection) when it is still open. Nil when only a whole copy
    /// can restore it. Four exchanges when rows changed (the admin connection's, then
    /// three on the database's), three when nothing did.
    func reset(
        _ database: String, baseline: Baseline, kept: PostgresConnection?, sequences: [SequenceValue]
    ) throws -> Outcome? {
        var target: PostgresConnection
        if let kept, !kept.isClosedByServer {
            target = kept
        } else {
            kept?.close()
            target = try connect(database)
        }
        var handedOver = false
        defer { if !handedOver { target.close() } }
        guard target.backendPid > 0 else { return nil }
        try _ = Self.session(target)
        let name = admin.identifier(database)
        let on = [admin.literal(database), "\(target.backendPid)"]
        let gate = try admin.execute(
            "muster_reset_gate", parameters: ["name", "name", "integer"], Self.gateSQL,
            arguments: [admin.literal(Self.sourceName(of: baseline.template))] + on)
        let othersHere = try target.execute(
            "muster_reset_others", parameters: ["name", "integer"], Self.othersSQL, arguments: on)
        // One exchange: no new connections from now, whether the source is still the
        // baseline's, and every other session told to end.
        let first = try admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false; " + gate).first
        var reopened = false
        defer { if !reopened { _ = try? admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true") } }
        guard let first, first.count == 2, first[0] == baseline.source else { return nil }
        // Sessions report their counts as they end: once they are gone, the counts are complete.
        let ended = Int(first[1] ?? "") ?? 0
        if ended > 0 {
            let deadline = Date().addingTimeInterval(5)
            let others = try admin.execute(
                "muster_reset_others", parameters: ["name", "integer"], Self.othersSQL, arguments: on)
            while try admin.value(others) != "0" {
                guard Date() < deadline else { return nil }
                usleep(1_000)
            }
        }
        var now = try Self.signature(of: target)
        if now.classChanges != baseline.signature.classChanges { now.relations = try Self.relations(of: target) }
        guard now.sameSchema(as: baseline.signature) else { return nil }
        now.relations = baseline.signature.relations
        let changed = now.tables.filter { baseline.signature.tables[$0.key] != $0.value }.keys.sorted()
        // The last statements of the last exchange: no other session came in; connections again.
        let closing = "\(othersHere); ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true"
        var after = now
        var written = 0
        if changed.isEmpty {
            let results = try target.exchange(
                [try Self.sequencesStatement(sequences, on: target), closing].compactMap { $0 }.joined(separator: "; "))
            reopened = true
            // Results: [sequences], count, ALTER.
            after.others = results.count >= 2 ? Self.cell(results[results.count - 2]).flatMap { Int($0) } ?? -1 : -1
        } else {
            let sourceName = Self.sourceName(of: baseline.template)
            let sourceKey = sourceName + "/" + baseline.source
            let source = try pool.borrow(sourceKey) { try connect(sourceName) }
            let tables = try known.tables(source: baseline.source) { try ResetTable.read(from: source) }
            guard
                let plan = ReloadPlan(
                    changed: changed, now: now.tables, baseline: baseline.signature.tables, tables: tables)
            else { return nil }
            let reload = try plan.open(
                on: target, from: source, horizon: baseline.signature.horizon,
                rows: { table in
                    try known.rows(source: baseline.source, table: table.oid) {
                        try BinaryCopy.tuples(
                            source.copyOut("COPY \(table.name) (\(table.copyColumns)) TO STDOUT (FORMAT binary)"),
                            key: table.key)
                    }
                })
            pool.giveBack(sourceKey, source)  // not on a failure: it may be broken
            // One exchange: the copies, the sequences, the commit, connections again; the
            // session reports its counts as it goes idle, before the answer.
            var statements = reload.copies.map(\.sql)
            if let sql = try Self.sequencesStatement(sequences, on: target) { statements.append(sql) }
            statements += [
                "SELECT txid_current()::text", "COMMIT", closing, "SELECT pg_stat_force_next_flush()",
            ]
            let results = try target.exchange(statements.joined(separator: ";\n"), copyIn: reload.copies.map(\.data))
            reopened = true
            // Results: ..., txid, COMMIT, count, ALTER, flush.
            guard results.count == statements.count + 1,
                let xid = Self.cell(results[results.count - 5]).flatMap({ UInt64($0) })
            else { throw NetworkError("the reset's last statements did not all run") }
            written = plan.whole.count + plan.byRow.count
            if plan.whole.isEmpty {
                // Counts known without reading them: each table's deletes and inserts added.
                for (oid, count) in reload.deleted { after.tables[oid]?.deleted += count }
                for (oid, count) in reload.inserted { after.tables[oid]?.inserted += count }
                after.horizon = xid + 1
                after.others = Self.cell(results[results.count - 3]).flatMap { Int($0) } ?? -1
            } else {
                // TRUNCATE moved files and pg_class: read it all again.
                let others = Self.cell(results[results.count - 3]).flatMap { Int($0) } ?? -1
                after = try Self.signature(of: target)
                after.relations = baseline.signature.relations  // a reset writes no schema
                if others != 0 { after.others = others }
            }
        }
        handedOver = true
        return Outcome(
            tables: written, ended: ended,
            baseline: after.others == 0
                ? Baseline(template: baseline.template, source: baseline.source, signature: after) : nil,
            connection: target)
    }

    /// The first value of a statement's first row.
    static func cell(_ result: PostgresConnection.StatementResult) -> String? { result.rows.first?.first ?? nil }

    /// `sequencesSQL` prepared on `connection` (a snapshot's sequences and values do not
    /// change: one statement per snapshot source, named by a hash of its text).
    static func sequencesStatement(_ sequences: [SequenceValue], on connection: PostgresConnection) throws -> String? {
        guard let sql = sequencesSQL(sequences) else { return nil }
        return try connection.execute("muster_reset_sequences_" + ProjectPaths.hash(sql), sql)
    }

    /// Sets every sequence that moved back (one statement; nil without sequences). A
    /// sequence the snapshot has as not yet called is always set (its last value cannot
    /// be read without a statement of its own).
    static func sequencesSQL(_ sequences: [SequenceValue]) -> String? {
        guard !sequences.isEmpty else { return nil }
        return "SELECT count(pg_catalog.setval(s.id, s.value, s.called)) FROM (VALUES "
            + sequences.map { "(\($0.oid)::regclass, \($0.lastValue)::bigint, \($0.isCalled))" }
            .joined(separator: ", ")
            + ") s(id, value, called) WHERE NOT s.called OR pg_catalog.pg_sequence_last_value(s.id) IS DISTINCT FROM s.value"
    }
}

extension DatabaseSnapshots {
    /// Makes the snapshot's source when it has none yet: a copy only muster's
    /// superuser connects to (the tables' owner could write to it otherwise).
    func ensureSource(of template: String) throws {
        let source = DatabaseReset.sourceName(of: template)
        guard try !exists(source), let note = try note(of: template), note.muster == "snapshot" else { return }
        try copy(
            template, to: source, owner: nil, note: .init(muster: "source", database: note.database, name: template))
        try admin.query("REVOKE CONNECT, TEMPORARY ON DATABASE \(admin.identifier(source)) FROM PUBLIC")
    }
}
