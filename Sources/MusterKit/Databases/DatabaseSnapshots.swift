import Foundation

/// Snapshots of a Postgres database inside muster's own cluster, and the fast
/// restore built on them. A snapshot is a template database (`CREATE DATABASE ...
/// TEMPLATE`), closed to connections, with a JSON comment saying what it is; it lives
/// in the cluster, so it survives `down` and goes with `down --volumes`.
///
/// Restore is a swap, not a copy: for each database with a snapshot, muster keeps a
/// *spare*, a copy made ahead of time in the background. A restore ends the sessions
/// on the database, renames it away and renames the spare into its place (each a
/// catalog update of milliseconds), then drops the old one and makes the next spare
/// in the background. Drop-and-copy alone (what testcontainers' Restore does) spends
/// the copy's whole time in the caller's path.
///
/// These are the SQL steps on one admin connection; `DatabaseDesk` orders them.
public struct DatabaseSnapshots {
    let admin: PostgresConnection

    /// `CREATE DATABASE` copies with the WAL_LOG strategy (Postgres 15's default): it
    /// writes the copy through the WAL without the two checkpoints FILE_COPY forces,
    /// which cost more than the copy itself for the small databases of tests.
    static let strategy = "WAL_LOG"

    /// What a muster database's comment says.
    struct Note: Codable, Equatable {
        /// `snapshot`, `spare` or `clone`.
        var muster: String
        /// snapshot: the database it copies; spare and clone: the database they stand for.
        var database: String
        /// snapshot: its name; spare and clone: the snapshot database they copy.
        var name: String
        var taken: String?
    }

    public struct Snapshot: Codable, Sendable, Equatable {
        public var database: String
        public var name: String
        /// The template database that holds it.
        public var template: String
        public var taken: String
        public var sizeBytes: Int
    }

    static func snapshotDatabase(of database: String, name: String) -> String {
        "muster_snap_" + ProjectPaths.hash(database + "/" + name)
    }

    static func spareDatabase(for database: String, snapshot: String) -> String {
        "muster_spare_" + ProjectPaths.hash(database + "/" + snapshot)
    }

    // MARK: - Reading

    func exists(_ database: String) throws -> Bool {
        try admin.value("SELECT 1 FROM pg_database WHERE datname = \(admin.literal(database))") != nil
    }

    func note(of database: String) throws -> Note? {
        guard let text = try admin.value("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = \(admin.literal(database))"),
              text.contains("\"muster\"") else { return nil }
        return try? JSONDecoder().decode(Note.self, from: Data(text.utf8))
    }

    func owner(of database: String) throws -> String? {
        try admin.value("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = \(admin.literal(database))")
    }

    /// Every snapshot in the cluster, oldest first.
    func list() throws -> [Snapshot] {
        let rows = try admin.query("""
            SELECT datname, shobj_description(oid, 'pg_database'), pg_database_size(oid) FROM pg_database
            WHERE datname LIKE 'muster\\_snap\\_%' ORDER BY datname
            """)
        return rows.compactMap { row -> Snapshot? in
            guard row.count == 3, let datname = row[0], let text = row[1],
                  let note = try? JSONDecoder().decode(Note.self, from: Data(text.utf8)), note.muster == "snapshot" else { return nil }
            return Snapshot(database: note.database, name: note.name, template: datname, taken: note.taken ?? "",
                            sizeBytes: Int(row[2] ?? "") ?? 0)
        }.sorted { $0.taken < $1.taken }
    }

    // MARK: - Writing

    /// Ends every other session on `database`, waits until they are gone (up to 5 s),
    /// and returns how many there were.
    @discardableResult
    func endSessions(on database: String) throws -> Int {
        let ended = Int(try admin.value("""
            SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = \(admin.literal(database)) AND pid <> pg_backend_pid()
            """) ?? "0") ?? 0
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let left = try admin.value("SELECT count(*) FROM pg_stat_activity WHERE datname = \(admin.literal(database)) AND pid <> pg_backend_pid()")
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
            } catch let error as NetworkError where error.message.contains("being accessed by other users") && attempt < 20 {
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
        try whileInUse(template, "CREATE DATABASE \(admin.identifier(database)) TEMPLATE \(admin.identifier(template)) STRATEGY \(Self.strategy)\(ownerClause)")
        try comment(database, note)
    }

    func comment(_ database: String, _ note: Note?) throws {
        let text = note.map { String(decoding: ControlJSON.encode($0), as: UTF8.self) }
        try admin.query("COMMENT ON DATABASE \(admin.identifier(database)) IS \(text.map { admin.literal($0) } ?? "NULL")")
    }

    /// Takes the snapshot (replacing one of the same name); returns the sessions it ended.
    func snapshot(_ database: String, name: String) throws -> (Snapshot, ended: Int) {
        let template = Self.snapshotDatabase(of: database, name: name)
        let ended = try endSessions(on: database)
        // Spares copied from the snapshot being replaced (of the database and its clones) are stale.
        let spares = try admin.query("""
            SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%"muster":"spare"%'
            """).compactMap { $0.first ?? nil }
        for spare in spares where try note(of: spare)?.name == template { try drop(spare) }
        try drop(template)
        let taken = EventLog.timestamp(Date())
        try copy(database, to: template, owner: try owner(of: database),
                 note: Note(muster: "snapshot", database: database, name: name, taken: taken))
        try admin.query("ALTER DATABASE \(admin.identifier(template)) WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
        let size = Int(try admin.value("SELECT pg_database_size(\(admin.literal(template)))") ?? "") ?? 0
        return (Snapshot(database: database, name: name, template: template, taken: taken, sizeBytes: size), ended)
    }

    /// Makes the spare for `database` unless it is there.
    func prepareSpare(for database: String, snapshot template: String, owner: String?) throws {
        let spare = Self.spareDatabase(for: database, snapshot: template)
        if try exists(spare) { return }
        try copy(template, to: spare, owner: owner, note: Note(muster: "spare", database: database, name: template))
    }

    /// Swaps the spare in for `database`; returns the sessions it ended and the old
    /// database's new name (to drop afterwards), if there was one.
    func swapIn(_ database: String, snapshot template: String) throws -> (ended: Int, old: String?) {
        let owner = try owner(of: database)
        try prepareSpare(for: database, snapshot: template, owner: owner)
        let keep = try note(of: database)  // a clone stays a clone
        var old: String?
        var ended = 0
        if try exists(database) {
            let trash = "muster_trash_" + ProjectPaths.hash(database + "\(Date().timeIntervalSince1970)\(UInt64.random(in: 0...UInt64.max))")
            ended = try endSessions(on: database)
            try whileInUse(database, "ALTER DATABASE \(admin.identifier(database)) RENAME TO \(admin.identifier(trash))")
            old = trash
        }
        try admin.query("ALTER DATABASE \(admin.identifier(Self.spareDatabase(for: database, snapshot: template))) RENAME TO \(admin.identifier(database))")
        try comment(database, keep)
        return (ended, old)
    }
}
