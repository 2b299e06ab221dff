import Foundation

/// Snapshots of a Postgres database inside muster's own cluster, and the fast
/// restore built on them. A snapshot is a template database (`CREATE DATABASE ...
/// TEMPLATE`), closed to connections, with a JSON comment saying what it is; it lives
/// in the cluster, so it survives `down` and goes with `down --volumes`.
///
/// Restore is a swap, not a copy: for each database with a snapshot, muster keeps a
/// *pool* of spares, copies made ahead of time in the background (`snapshot: { spares:
/// N }`, 2 by default). A restore ends the sessions on the database, renames it away
/// and renames the oldest spare into its place (each a catalog update of
/// milliseconds), then drops the old one and refills the pool in the background. With
/// the pool empty, the restore makes the copy itself and says how long that took. Drop-and-copy alone (what testcontainers' Restore does) spends
/// the copy's whole time in the caller's path.
///
/// These are the SQL steps on one admin connection; `DatabaseDesk` orders them.
public struct DatabaseSnapshots {
    let admin: PostgresConnection

    /// Steps on a new superuser connection to the `postgres` database of the cluster at
    /// `socketDir` and `port`, with the provisioning statements' time limit.
    static func admin(socketDir: String, port: String) throws -> DatabaseSnapshots {
        let connection = try PostgresConnection(
            "host=\(PostgresConnection.conninfoValue(socketDir)) port=\(port) user=postgres dbname=postgres connect_timeout=5 application_name=muster"
        )
        connection.statementTimeout = PostgresConnection.provisioningTimeout
        return DatabaseSnapshots(admin: connection)
    }

    /// `CREATE DATABASE` copies with the WAL_LOG strategy (Postgres 15's default): it
    /// writes the copy through the WAL without the two checkpoints FILE_COPY forces,
    /// which cost more than the copy itself for the small databases of tests.
    static let strategy = "WAL_LOG"

    /// What a muster database's comment says.
    struct Note: Codable, Equatable {
        /// `snapshot`, `spare`, `clone`, `kept` or `source` (the snapshot's copy a reset in place reads).
        var muster: String
        /// snapshot: the database it copies; spare and clone: the database they stand for; kept: the database it was.
        var database: String
        /// snapshot: its name; spare and clone: the snapshot database they copy; kept: the test.
        var name: String
        var taken: String?
        /// A keyed snapshot's key (`SnapshotKey.hex`).
        var key: String?
    }

    public struct Snapshot: Codable, Sendable, Equatable {
        public var database: String
        public var name: String
        /// The template database that holds it.
        public var template: String
        public var taken: String
        public var sizeBytes: Int
        /// The pools of ready copies of this snapshot: the database's and each clone's.
        public var pools: [SparePool]?
        /// A keyed snapshot's key (`snapshot: { key: [...] }`).
        public var key: String?
    }

    /// The ready copies of a snapshot kept for one database (`ready` of `size`).
    public struct SparePool: Codable, Sendable, Equatable {
        public var database: String
        public var ready: Int
        public var size: Int
    }

    static func snapshotDatabase(of database: String, name: String) -> String {
        "muster_snap_" + ProjectPaths.hash(database + "/" + name)
    }

    /// What the names of a pool's spares start with; each spare adds `_` and a random suffix.
    static func sparePrefix(for database: String, snapshot: String) -> String {
        "muster_spare_" + ProjectPaths.hash(database + "/" + snapshot)
    }

    static func newSpareName(for database: String, snapshot: String) -> String {
        sparePrefix(for: database, snapshot: snapshot) + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    // MARK: - Reading

    func exists(_ database: String) throws -> Bool {
        try admin.value("SELECT 1 FROM pg_database WHERE datname = \(admin.literal(database))") != nil
    }

    func note(of database: String) throws -> Note? {
        guard
            let text = try admin.value(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = \(admin.literal(database))"
            ),
            text.contains("\"muster\"")
        else { return nil }
        return try? JSONDecoder().decode(Note.self, from: Data(text.utf8))
    }

    func owner(of database: String) throws -> String? {
        try admin.value("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = \(admin.literal(database))")
    }

    /// The ready spares of `database`'s pool, oldest first. A spare still being copied
    /// is not there yet: `CREATE DATABASE` shows its row only once it has committed.
    func spares(for database: String, snapshot template: String) throws -> [String] {
        let pattern =
            Self.sparePrefix(for: database, snapshot: template).replacingOccurrences(of: "_", with: "\\_") + "%"
        return try admin.query(
            "SELECT datname FROM pg_database WHERE datname LIKE \(admin.literal(pattern)) ORDER BY oid"
        )
        .compactMap { $0.first ?? nil }
    }

    /// Every database muster made a copy of `template` for (`shop` and its clones),
    /// with the ready spares of each.
    func pools(of template: String, database: String) throws -> [(database: String, ready: Int)] {
        let rows = try admin.query(
            """
            SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database
            WHERE shobj_description(oid, 'pg_database') LIKE '%"muster":"clone"%' OR shobj_description(oid, 'pg_database') LIKE '%"muster":"spare"%'
            """)
        var clones: [String] = []
        var ready: [String: Int] = [:]
        for row in rows {
            guard row.count == 2, let name = row[0], let text = row[1],
                let note = try? JSONDecoder().decode(Note.self, from: Data(text.utf8)), note.name == template
            else { continue }
            if note.muster == "clone" {
                clones.append(name)
            } else if note.muster == "spare" {
                ready[note.database, default: 0] += 1
            }
        }
        return ([database] + clones.sorted()).map { ($0, ready[$0] ?? 0) }
    }

    /// Every snapshot in the cluster, oldest first.
    func list() throws -> [Snapshot] {
        let rows = try admin.query(
            """
            SELECT datname, shobj_description(oid, 'pg_database'), pg_database_size(oid) FROM pg_database
            WHERE datname LIKE 'muster\\_snap\\_%' ORDER BY datname
            """)
        return rows.compactMap { row -> Snapshot? in
            guard row.count == 3, let datname = row[0], let text = row[1],
                let note = try? JSONDecoder().decode(Note.self, from: Data(text.utf8)), note.muster == "snapshot"
            else { return nil }
            return Snapshot(
                database: note.database, name: note.name, template: datname, taken: note.taken ?? "",
                sizeBytes: Int(row[2] ?? "") ?? 0, key: note.key)
        }.sorted { $0.taken < $1.taken }
    }

    // MARK: - Writing

    /// Ends every other session on `database` (but `sparing`, a backend pid), waits
    /// until they are gone (up to 5 s), and returns how many there were.
    @discardableResult
    func endSessions(on database: String, sparing: String? = nil) throws -> Int {
        let others =
            "datname = \(admin.literal(database)) AND pid <> pg_backend_pid()"
            + (sparing.map { " AND pid <> \(Int($0) ?? 0)" } ?? "")
        let ended =
            Int(try admin.value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE \(others)") ?? "0")
            ?? 0
        if ended == 0 { return 0 }  // none was there, none to wait for
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let left = try admin.value("SELECT count(*) FROM pg_stat_activity WHERE \(others)")
            if left == "0" { break }
            usleep(2_000)
        }
        return ended
    }

    /// Runs `sql`, ending sessions on `database` and retrying while Postgres says it is
    /// in use (a client reconnecting between the two steps).
    func whileInUse(_ database: String, _ sql: String) throws {
        var attempt = 0
        while true {
            do {
                try admin.query(sql)
                return
            } catch let error as NetworkError
                where error.message.contains("being accessed by other users") && attempt < 20
            {
                attempt += 1
                try endSessions(on: database)
            }
        }
    }

    func drop(_ database: String) throws {
        if try note(of: database)?.muster == "snapshot" {
            try admin.query("ALTER DATABASE \(admin.identifier(database)) WITH IS_TEMPLATE false")
        }
        try admin.query("DROP DATABASE IF EXISTS \(admin.identifier(database)) WITH (FORCE)")
    }

    func copy(_ template: String, to database: String, owner: String?, note: Note?) throws {
        let ownerClause = owner.map { " OWNER \(admin.identifier($0))" } ?? ""
        try whileInUse(
            template,
            "CREATE DATABASE \(admin.identifier(database)) TEMPLATE \(admin.identifier(template)) STRATEGY \(Self.strategy)\(ownerClause)"
        )
        try comment(database, note)
    }

    func comment(_ database: String, _ note: Note?) throws {
        let text = note.map { String(decoding: ControlJSON.encode($0), as: UTF8.self) }
        try admin.query(
            "COMMENT ON DATABASE \(admin.identifier(database)) IS \(text.map { admin.literal($0) } ?? "NULL")")
    }

    /// Takes the snapshot (replacing one of the same name); returns the sessions it ended.
    func snapshot(_ database: String, name: String, key: String? = nil) throws -> (Snapshot, ended: Int) {
        let template = Self.snapshotDatabase(of: database, name: name)
        let ended = try endSessions(on: database)
        // Spares copied from the snapshot being replaced (of the database and its clones), and its source, are stale.
        let spares = try admin.query(
            """
            SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%"muster":"spare"%'
                OR shobj_description(oid, 'pg_database') LIKE '%"muster":"source"%'
            """
        ).compactMap { $0.first ?? nil }
        for spare in spares where try note(of: spare)?.name == template { try drop(spare) }
        try drop(template)
        let taken = EventLog.timestamp(Date())
        try copy(
            database, to: template, owner: try owner(of: database),
            note: Note(muster: "snapshot", database: database, name: name, taken: taken, key: key))
        try admin.query("ALTER DATABASE \(admin.identifier(template)) WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
        let size = Int(try admin.value("SELECT pg_database_size(\(admin.literal(template)))") ?? "") ?? 0
        return (
            Snapshot(database: database, name: name, template: template, taken: taken, sizeBytes: size, key: key), ended
        )
    }

    /// Copies one more spare into `database`'s pool; returns its name.
    @discardableResult
    func addSpare(for database: String, snapshot template: String, owner: String?) throws -> String {
        let spare = Self.newSpareName(for: database, snapshot: template)
        try copy(template, to: spare, owner: owner, note: Note(muster: "spare", database: database, name: template))
        return spare
    }

    /// Copies spares into `database`'s pool until it holds `size`; returns how many it made.
    @discardableResult
    func fill(_ database: String, snapshot template: String, size: Int) throws -> Int {
        guard try exists(template) else { return 0 }
        let owner = try owner(of: database)
        var made = 0
        while try spares(for: database, snapshot: template).count < size {
            try addSpare(for: database, snapshot: template, owner: owner)
            made += 1
        }
        return made
    }

    /// Swaps a spare from the pool in for `database`, or with the pool empty a copy made
    /// now; returns the sessions it ended, the old database's new name (to drop
    /// afterwards), if there was one, and how long the copy took when the pool was empty.
    /// `keeping`: the old database is renamed to that name, with that note, and kept.
    /// `refilling`: whether a refill of the pool is under way (worth waiting for).
    func swapIn(
        _ database: String, snapshot template: String,
        keeping kept: (name: String, note: Note)? = nil,
        refilling: () -> Bool = { false }
    ) throws -> (ended: Int, old: String?, waitedMs: Double?) {
        let owner = try owner(of: database)
        var waitedMs: Double?
        var spare = try spares(for: database, snapshot: template).first
        if spare == nil {
            // Empty: wait for the copy a refill is making (a second copy beside it would
            // only slow both), else make one now.
            let begin = Date()
            while spare == nil, refilling(), Date().timeIntervalSince(begin) < 60 {
                usleep(10_000)  // a copy takes 100 ms or more: no need to ask the catalog more often
                spare = try spares(for: database, snapshot: template).first
            }
            if spare == nil { spare = try addSpare(for: database, snapshot: template, owner: owner) }
            waitedMs = (Date().timeIntervalSince(begin) * 1_000_000).rounded() / 1000
        }
        guard let spare else { throw MusterError(.serviceFailed, "no copy of the snapshot for \(database)") }
        let keep = try note(of: database)  // a clone stays a clone
        var old: String?
        var ended = 0
        if try exists(database) {
            let trash =
                kept?.name ?? "muster_trash_"
                + ProjectPaths.hash(database + "\(Date().timeIntervalSince1970)\(UInt64.random(in: 0...UInt64.max))")
            ended = try endSessions(on: database)
            try whileInUse(
                database, "ALTER DATABASE \(admin.identifier(database)) RENAME TO \(admin.identifier(trash))")
            if let kept { try comment(kept.name, kept.note) } else { old = trash }
        }
        try admin.query("ALTER DATABASE \(admin.identifier(spare)) RENAME TO \(admin.identifier(database))")
        try comment(database, keep)
        return (ended, old, waitedMs)
    }
}
