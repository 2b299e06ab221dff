import Foundation

/// A failed test's database, kept for someone to look at: renamed (not copied) to a
/// name that says which test (`shop_gw1_failed_test_checkout`), with a note saying so,
/// while a ready copy of the snapshot takes its place for the next test. A kept
/// database is never restored over; `muster db drop` and `down --volumes` remove it.
extension DatabaseSnapshots {
    public struct KeptDatabase: Codable, Sendable, Equatable {
        public var name: String
        /// The database it was (`shop_gw1`).
        public var database: String
        /// What it was kept for: the test's name, or the name it was kept as.
        public var test: String
        public var kept: String
        public var sizeBytes: Int
    }

    /// Every kept database in the cluster, oldest first.
    func keptList() throws -> [KeptDatabase] {
        let rows = try admin.query(
            """
            SELECT datname, shobj_description(oid, 'pg_database'), pg_database_size(oid) FROM pg_database
            WHERE shobj_description(oid, 'pg_database') LIKE '%"muster":"kept"%'
            """)
        return rows.compactMap { row -> KeptDatabase? in
            guard row.count == 3, let name = row[0], let text = row[1],
                let note = try? JSONDecoder().decode(Note.self, from: Data(text.utf8)), note.muster == "kept"
            else { return nil }
            return KeptDatabase(
                name: name, database: note.database, test: note.name, kept: note.taken ?? "",
                sizeBytes: Int(row[2] ?? "") ?? 0)
        }.sorted { ($0.kept, $0.name) < ($1.kept, $1.name) }
    }

    /// The longest a Postgres name can be; longer ones are cut, silently, by Postgres.
    static let nameLimit = 63

    /// `DATABASE_failed_TEST`, the test's name in lower-case letters, digits and `_`,
    /// cut to 63 bytes, and made unique with `_2`, `_3` ... when `isTaken` says so.
    static func keptName(for database: String, test: String, isTaken: (String) throws -> Bool) throws -> String {
        var label = ""
        for scalar in test.lowercased().unicodeScalars {
            let keep = scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar))
            if keep { label.unicodeScalars.append(scalar) } else if !label.hasSuffix("_") { label += "_" }
        }
        label = label.trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        let base = database + "_failed_" + (label.isEmpty ? "test" : label)
        for attempt in 1...999 {
            let suffix = attempt == 1 ? "" : "_\(attempt)"
            let name = cut(base, toBytes: nameLimit - suffix.utf8.count) + suffix
            if try !isTaken(name) { return name }
        }
        throw MusterError(
            .usage,
            "999 databases named like \(cut(base, toBytes: nameLimit)) are kept already; drop some with muster db drop")
    }

    /// `text` without the characters past `limit` bytes (never half a character).
    static func cut(_ text: String, toBytes limit: Int) -> String {
        var result = ""
        for character in text {
            if result.utf8.count + character.utf8.count > limit { break }
            result.append(character)
        }
        return result
    }
}
