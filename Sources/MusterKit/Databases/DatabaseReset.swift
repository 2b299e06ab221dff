import Foundation

/// A restore without a copy. Tests change a few rows of a few tables; copying the whole
/// database back (100 to 300 ms for 50 tables here, more than a test's own work) is
/// what made restores back to back wait for the pool. When Postgres' own counters say
/// only rows of ordinary tables changed since the database last equalled its snapshot,
/// the restore reloads just those tables (and the tables whose foreign keys point at
/// them) from a *source*, a copy of the snapshot that nothing writes to, and sets every
/// sequence back; anything else (the schema or any catalog changed, the server
/// restarted, the counters were reset, a trigger that fires during the reload) falls
/// back to swapping in a whole copy from the pool.
///
/// How a change is seen: each table's inserted + updated + deleted row counts and its
/// file (`TRUNCATE` gives a table a new one), the same counts over the database's own
/// catalogs (DDL, `COMMENT`, `GRANT`, large objects, temporary tables all write there)
/// but `pg_class`, whose rows `TRUNCATE` rewrites too: of it, every column but where a
/// relation's data lies and its sizes, the database's oid, the server's start time and
/// the counters' last reset. Sessions
/// report their counts when they end, and the restore ends them all first; while it
/// works the database takes no new connections, so no write slips in between the reset
/// and the counts read after it. `track_counts = off` (superusers only) hides changes.
struct DatabaseReset {
    let admin: PostgresConnection
    /// Connects as muster's superuser to one database of the cluster.
    let connect: (String) throws -> PostgresConnection
    /// Open connections to sources, kept between resets.
    var pool = SourceConnections()

    /// The counters of a database that equals its snapshot.
    struct Baseline: Sendable, Equatable {
        /// The snapshot database and its source's oid (a retaken snapshot has a new source).
        var template: String
        var source: String
        var signature: Signature
    }

    struct Signature: Sendable, Equatable {
        /// The database's oid, the server's start, the counters' last reset, track_counts.
        var database: String
        /// Rows changed in the database's own catalogs (statistics left out: ANALYZE writes them;
        /// pg_class left out: TRUNCATE writes it).
        var catalogChanges: Int
        /// pg_class without its storage columns (relfilenode, sizes, frozen ids).
        var relations: String
        /// Each table's oid → "changed rows|file".
        var tables: [String: String]

        /// Nothing written since the database was made (a copy starts with no counts).
        var isPristine: Bool { catalogChanges == 0 && tables.values.allSatisfy { $0.hasPrefix("0|") } }
    }

    /// A sequence of the snapshot and the value a reset sets back.
    struct SequenceValue: Sendable, Equatable {
        var oid: String
        var lastValue: String
        var isCalled: Bool
    }

    /// Above this many bytes of tables to reload, a whole copy is as quick.
    static let reloadLimit = 64 << 20

    static func sourceName(of template: String) -> String { "muster_source_" + ProjectPaths.hash(template) }

    func sourceOid(of template: String) throws -> String? {
        try admin.value("SELECT oid FROM pg_database WHERE datname = \(admin.literal(Self.sourceName(of: template)))")
    }

    static func signature(of connection: PostgresConnection) throws -> Signature {
        let rows = try connection.query(
            """
            SELECT 'database', concat_ws('|', d.oid, pg_postmaster_start_time(), coalesce(s.stats_reset::text, '-'), current_setting('track_counts')),
                   (SELECT coalesce(sum(t.n_tup_ins + t.n_tup_upd + t.n_tup_del), 0) FROM pg_stat_all_tables t JOIN pg_class c ON c.oid = t.relid
                    WHERE c.relnamespace = 'pg_catalog'::regnamespace AND NOT c.relisshared
                      AND c.relname NOT IN ('pg_statistic', 'pg_statistic_ext_data', 'pg_class'))::text,
                   (SELECT md5(string_agg(concat_ws(',', oid, relname, relnamespace, reltype, reloftype, relowner, relam, reltablespace,
                        relhasindex, relisshared, relpersistence, relkind, relnatts, relchecks, relhasrules, relhastriggers,
                        relhassubclass, relrowsecurity, relforcerowsecurity, relispopulated, relreplident, relispartition,
                        relrewrite, relacl, reloptions, relpartbound), ';' ORDER BY oid)) FROM pg_class)
            FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid WHERE d.datname = current_database()
            UNION ALL
            SELECT relid::text, (n_tup_ins + n_tup_upd + n_tup_del) || '|' || coalesce(pg_relation_filenode(relid)::text, ''), NULL, NULL
            FROM pg_stat_user_tables
            """)
        var signature = Signature(database: "", catalogChanges: -1, relations: "", tables: [:])
        for row in rows where row.count == 4 {
            guard let key = row[0], let value = row[1] else { continue }
            if key == "database" {
                signature.database = value
                signature.catalogChanges = Int(row[2] ?? "") ?? -1
                signature.relations = row[3] ?? ""
            } else {
                signature.tables[key] = value
            }
        }
        guard !signature.database.isEmpty, signature.catalogChanges >= 0 else {
            throw NetworkError(
                "the counters of \(try connection.value("SELECT current_database()") ?? "the database") could not be read"
            )
        }
        return signature
    }

    /// The baseline of a database just swapped in, when nothing has written to it yet.
    func pristineBaseline(of database: String, template: String) throws -> Baseline? {
        guard let source = try sourceOid(of: template) else { return nil }
        let connection = try connect(database)
        defer { connection.close() }
        let signature = try Self.signature(of: connection)
        return signature.isPristine && signature.database.hasSuffix("|on")
            ? Baseline(template: template, source: source, signature: signature) : nil
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

    /// Resets `database` in place to the snapshot `baseline` was taken from. Returns the
    /// tables reloaded, the sessions ended and the new baseline (nil when another session
    /// got in meanwhile); nil when only a whole copy can restore it.
    func reset(
        _ database: String, baseline: Baseline, sequences: [SequenceValue],
        snapshots: DatabaseSnapshots
    ) throws -> (tables: Int, ended: Int, baseline: Baseline?)? {
        let target = try connect(database)
        defer { target.close() }
        guard target.backendPid > 0 else { return nil }
        let pid = String(target.backendPid)
        let name = admin.identifier(database)
        // One exchange: no new connections from now, and whether the source is still the baseline's.
        let source = try admin.value(
            """
            ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS false;
            SELECT oid FROM pg_database WHERE datname = \(admin.literal(Self.sourceName(of: baseline.template)))
            """)
        defer { _ = try? admin.query("ALTER DATABASE \(name) WITH ALLOW_CONNECTIONS true") }
        guard source == baseline.source else { return nil }
        // Sessions report their counts as they end: after this, the counts are complete.
        let ended = try snapshots.endSessions(on: database, sparing: pid)
        let now = try Self.signature(of: target)
        guard now.database == baseline.signature.database, now.catalogChanges == baseline.signature.catalogChanges,
            now.relations == baseline.signature.relations, Set(now.tables.keys) == Set(baseline.signature.tables.keys)
        else { return nil }
        let changed = now.tables.filter { baseline.signature.tables[$0.key] != $0.value }.keys.sorted()
        var reloaded = 0
        if changed.isEmpty {
            try setSequences(sequences, on: target, then: nil)
        } else {
            // The changed tables and every table whose foreign keys reach them: TRUNCATE needs them together.
            let tables = try target.query(
                """
                WITH RECURSIVE hit(oid) AS (SELECT unnest('{\(changed.joined(separator: ","))}'::oid[])
                    UNION SELECT k.conrelid FROM pg_constraint k JOIN hit ON k.confrelid = hit.oid WHERE k.contype = 'f')
                SELECT format('%I.%I', n.nspname, r.relname), r.relkind::text, pg_relation_size(r.oid)::text,
                       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = r.oid AND t.tgenabled IN ('A', 'R') AND NOT t.tgisinternal)::text
                FROM hit JOIN pg_class r ON r.oid = hit.oid JOIN pg_namespace n ON n.oid = r.relnamespace
                """)
            // Only ordinary tables, small enough, and no trigger that would fire while they reload.
            guard tables.allSatisfy({ $0.count == 4 && $0[1] == "r" && $0[3] == "0" }),
                tables.reduce(0, { $0 + (Int($1[2] ?? "") ?? 0) }) <= Self.reloadLimit
            else { return nil }
            let names = tables.compactMap { $0[0] }
            let sourceName = Self.sourceName(of: baseline.template)
            let source = try pool.borrow(sourceName + "/" + baseline.source) { try connect(sourceName) }
            // One transaction: a failure leaves the database as it was (and the caller swaps).
            try target.query(
                "BEGIN; SET LOCAL session_replication_role = replica; TRUNCATE \(names.map { "ONLY \($0)" }.joined(separator: ", "))"
            )
            for table in names {
                let rows = try source.copyOut("COPY \(table) TO STDOUT (FORMAT binary)")
                try target.copyIn("COPY \(table) FROM STDIN (FORMAT binary)", rows)
            }
            pool.giveBack(sourceName + "/" + baseline.source, source)  // not on a failure: it may be broken
            try setSequences(sequences, on: target, then: "COMMIT")
            reloaded = names.count
        }
        // The counts of this session's own reset, reported now rather than when it ends.
        let after = try Self.signature(of: target)
        let others = try admin.value(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = \(admin.literal(database)) AND pid <> \(pid)")
        return (
            reloaded, ended,
            others == "0" ? Baseline(template: baseline.template, source: baseline.source, signature: after) : nil
        )
    }

    /// Sets every sequence back, runs `then`, and has the session report its counts
    /// when it goes idle (one exchange).
    private func setSequences(_ sequences: [SequenceValue], on target: PostgresConnection, then: String?) throws {
        var sql =
            sequences.isEmpty
            ? []
            : [
                "SELECT "
                    + sequences.map { "pg_catalog.setval(\($0.oid)::regclass, \($0.lastValue), \($0.isCalled))" }
                    .joined(separator: ", ")
            ]
        if let then { sql.append(then) }
        sql.append("SELECT pg_stat_force_next_flush()")
        try target.query(sql.joined(separator: "; "))
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

/// Connections to snapshot sources kept open between resets (a new one costs a server
/// process): taken by one reset at a time, given back only after a success.
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

/// What the restores of one stack know between calls: each database's baseline, and
/// each snapshot source's sequences.
final class ResetBaselines: @unchecked Sendable {
    private let lock = NSLock()
    private var baselines: [String: DatabaseReset.Baseline] = [:]
    private var sequences: [String: [DatabaseReset.SequenceValue]] = [:]

    /// Removes and returns `database`'s baseline (a restore puts back the one it leaves).
    func take(_ database: String) -> DatabaseReset.Baseline? {
        lock.withLock { baselines.removeValue(forKey: database) }
    }

    func set(_ database: String, _ baseline: DatabaseReset.Baseline?) {
        lock.withLock { baselines[database] = baseline }
    }

    /// The sequences of a source, read once (nothing writes to a source).
    func sequences(source: String, read: () throws -> [DatabaseReset.SequenceValue]) throws -> [DatabaseReset
        .SequenceValue]
    {
        if let known = lock.withLock({ sequences[source] }) { return known }
        let values = try read()
        lock.withLock { sequences[source] = values }
        return values
    }
}
