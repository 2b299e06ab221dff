import Foundation

/// Keyed snapshots inside the cluster. The current snapshot of a name keeps the usual
/// template (`muster_snap_…`, what `db restore` and the pools copy); when a snapshot
/// with another key replaces it, the old one is not dropped but renamed aside
/// (`muster_keyed_…`, note `keyed`), so going back to files seen before (a branch
/// switched back) finds its snapshot again. At most `keyLimit` keys are kept per
/// snapshot, the current one included; older ones are dropped, oldest first.
extension DatabaseSnapshots {
    /// Keys kept per snapshot (per database and name), the current one included.
    public static let keyLimit = 3

    /// A snapshot set aside for its key.
    public struct KeyedSnapshot: Codable, Sendable, Equatable {
        public var database: String
        public var name: String
        public var key: String
        public var taken: String
        public var sizeBytes: Int
    }

    static func keyedDatabase(of database: String, name: String, key: String) -> String {
        "muster_keyed_" + ProjectPaths.hash(database + "/" + name + "/" + key)
    }

    /// What the current snapshot's key is (nil: none, or taken without a key).
    func currentKey(of database: String, name: String) throws -> String? {
        try note(of: Self.snapshotDatabase(of: database, name: name)).flatMap { $0.muster == "snapshot" ? $0.key : nil }
    }

    /// Whether the cluster holds a snapshot with `key`, current or set aside (changes nothing).
    func holds(_ database: String, name: String, key: String) throws -> Bool {
        try currentKey(of: database, name: name) == key || keyedAside(database, name: name, key: key) != nil
    }

    /// Makes the snapshot with `key` the current one, when the cluster holds it: it is
    /// already, or it was set aside (then it trades places with the current one, whose
    /// ready copies go). False when the cluster has no snapshot with that key.
    func activate(_ database: String, name: String, key: String) throws -> Bool {
        if try currentKey(of: database, name: name) == key { return true }
        guard let (aside, note) = try keyedAside(database, name: name, key: key) else { return false }
        try setAsideCurrent(database, name: name, pruning: false)  // the one wanted may be the oldest
        let template = Self.snapshotDatabase(of: database, name: name)
        try admin.query("ALTER DATABASE \(admin.identifier(aside)) RENAME TO \(admin.identifier(template))")
        try comment(template, Note(muster: "snapshot", database: database, name: name, taken: note.taken, key: key))
        try prune(database, name: name, keep: Self.keyLimit - 1)
        return true
    }

    /// The snapshot set aside for `key`, and its note, when the cluster holds one.
    private func keyedAside(_ database: String, name: String, key: String) throws -> (String, Note)? {
        let aside = Self.keyedDatabase(of: database, name: name, key: key)
        guard let note = try note(of: aside), note.muster == "keyed", note.key == key else { return nil }
        return (aside, note)
    }

    /// Renames the current snapshot aside under its key (a snapshot without a key is
    /// dropped, as a retake always did), drops the ready copies made from it, and
    /// keeps at most `keyLimit - 1` set aside. Before a new keyed snapshot is taken.
    func setAsideCurrent(_ database: String, name: String, pruning: Bool = true) throws {
        let template = Self.snapshotDatabase(of: database, name: name)
        guard let current = try note(of: template), current.muster == "snapshot" else { return }
        let spares = try admin.query(
            """
            SELECT datname FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE '%"muster":"spare"%'
            """
        ).compactMap { $0.first ?? nil }
        for spare in spares where try note(of: spare)?.name == template { try drop(spare) }
        guard let key = current.key else {
            try drop(template)
            return
        }
        let aside = Self.keyedDatabase(of: database, name: name, key: key)
        try dropKeyed(aside)
        try whileInUse(template, "ALTER DATABASE \(admin.identifier(template)) RENAME TO \(admin.identifier(aside))")
        try comment(aside, Note(muster: "keyed", database: database, name: name, taken: current.taken, key: key))
        if pruning { try prune(database, name: name, keep: Self.keyLimit - 1) }
    }

    /// Every snapshot set aside for its key, oldest first (of one database and name, or all).
    func keyedList(database: String? = nil, name: String? = nil) throws -> [KeyedSnapshot] {
        let rows = try admin.query(
            """
            SELECT datname, shobj_description(oid, 'pg_database'), pg_database_size(oid) FROM pg_database
            WHERE datname LIKE 'muster\\_keyed\\_%'
            """)
        return rows.compactMap { row -> KeyedSnapshot? in
            guard row.count == 3, let text = row[1],
                let note = try? JSONDecoder().decode(Note.self, from: Data(text.utf8)),
                note.muster == "keyed", let key = note.key
            else { return nil }
            guard database == nil || note.database == database, name == nil || note.name == name else { return nil }
            return KeyedSnapshot(
                database: note.database, name: note.name, key: key, taken: note.taken ?? "",
                sizeBytes: Int(row[2] ?? "") ?? 0)
        }.sorted { $0.taken < $1.taken }
    }

    /// Drops the oldest set-aside snapshots of `database`/`name` beyond `keep`.
    func prune(_ database: String, name: String, keep: Int) throws {
        let aside = try keyedList(database: database, name: name)
        for old in aside.dropLast(max(0, keep)) {
            try dropKeyed(Self.keyedDatabase(of: database, name: name, key: old.key))
        }
    }

    private func dropKeyed(_ aside: String) throws {
        guard try exists(aside) else { return }
        try admin.query("ALTER DATABASE \(admin.identifier(aside)) WITH IS_TEMPLATE false")
        try admin.query("DROP DATABASE IF EXISTS \(admin.identifier(aside)) WITH (FORCE)")
    }
}
