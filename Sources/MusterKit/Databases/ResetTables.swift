import Foundation

/// What a reset in place needs to know of one table of a snapshot. Read once from the
/// snapshot's source: a database whose counters match its baseline has the source's
/// schema, table oids included (a copy keeps its catalogs).
struct ResetTable: Sendable, Equatable {
    var oid: String
    /// `schema.table`, quoted.
    var name: String
    var kind: String
    /// User triggers that would fire while it reloads (enabled, or enabled for replicas).
    var triggers: Int
    var hasRules: Bool
    /// The columns a COPY carries (generated ones left out), quoted, in order.
    var columns: [String]
    /// The primary key's positions in `columns`; empty without a primary key (or with a generated column in it).
    var key: [Int]
    /// The tables whose foreign keys point at this one (a TRUNCATE takes them too).
    var referencedBy: [String]
    /// Bytes of its data in the source.
    var size: Int
    /// Bytes of the primary key's one integer column (2, 4 or 8); 0 for any other key.
    var integerKeyWidth = 0

    /// Rows written since the baseline can be found by their `xmin` and taken out one
    /// by one, and the snapshot's rows missing put back by their key.
    var reloadsByRow: Bool { kind == "r" && triggers == 0 && !hasRules && !key.isEmpty && size <= Self.rowCacheLimit }

    /// Above this size a table is reloaded whole (its rows are not kept in memory).
    static let rowCacheLimit = 16 << 20

    var copyColumns: String { columns.joined(separator: ", ") }

    /// Every user table of the database `connection` is on.
    static func read(from connection: PostgresConnection) throws -> [String: ResetTable] {
        let rows = try connection.query(
            """
            SELECT c.oid::text, format('%I.%I', n.nspname, c.relname), c.relkind::text,
                   (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled IN ('A', 'R') AND NOT t.tgisinternal)::text,
                   c.relhasrules::text,
                   (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''),
                   (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.i) FROM pg_index x
                    CROSS JOIN unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, i)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                    WHERE x.indrelid = c.oid AND x.indisprimary),
                   (SELECT string_agg(k.conrelid::text, ',') FROM pg_constraint k WHERE k.confrelid = c.oid AND k.contype = 'f'),
                   pg_relation_size(c.oid)::text,
                   (SELECT CASE a.atttypid WHEN 'int8'::regtype THEN 8 WHEN 'int4'::regtype THEN 4 WHEN 'int2'::regtype THEN 2 ELSE 0 END
                    FROM pg_index x JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
                    WHERE x.indrelid = c.oid AND x.indisprimary AND x.indnkeyatts = 1)::text
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
            """)
        var tables: [String: ResetTable] = [:]
        for row in rows where row.count == 10 {
            guard let oid = row[0], let name = row[1], let kind = row[2] else { continue }
            let columns = (row[5] ?? "").split(separator: ",").map(String.init)
            let keyColumns = (row[6] ?? "").split(separator: ",").map(String.init)
            let key = keyColumns.compactMap { columns.firstIndex(of: $0) }
            tables[oid] = ResetTable(
                oid: oid, name: name, kind: kind, triggers: Int(row[3] ?? "") ?? 1, hasRules: row[4] != "false",
                columns: columns, key: key.count == keyColumns.count ? key : [],
                referencedBy: (row[7] ?? "").split(separator: ",").map(String.init), size: Int(row[8] ?? "") ?? .max,
                integerKeyWidth: key.count == 1 ? Int(row[9] ?? "") ?? 0 : 0)
        }
        return tables
    }
}

/// The rows of one table of a snapshot's source, and where each key's row is.
struct SourceRows: Sendable {
    var tuples: [BinaryCopy.Tuple]
    var index: [[UInt8]: Int]
    /// The XOR of the keys when every key is one integer column; nil otherwise. Made
    /// once with the rows (they are read once per snapshot), not at every reset.
    let keysXOR: Int64?

    init(_ tuples: [BinaryCopy.Tuple]) {
        self.tuples = tuples
        index = Dictionary(tuples.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        keysXOR = tuples.reduce(Int64?(0)) { xor, tuple in
            guard let xor, let key = BinaryCopy.integer(ofKey: tuple.key) else { return nil }
            return xor ^ key
        }
    }

    var bytes: Int { tuples.reduce(0) { $0 + $1.bytes.count + $1.key.count } }
}

/// Postgres's binary COPY format: a header, tuples (a field count, then each field's
/// length, -1 for NULL, and bytes), and a trailer (a count of -1).
enum BinaryCopy {
    static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]
    /// The header with no flags and no extension.
    static let header: [UInt8] = signature + [0, 0, 0, 0, 0, 0, 0, 0]
    static let trailer: [UInt8] = [0xFF, 0xFF]

    /// One tuple: its bytes (count included) and its key (the key fields' lengths and bytes, in `key` order).
    struct Tuple: Sendable {
        var bytes: [UInt8]
        var key: [UInt8]
    }

    /// The signed 32-bit big-endian number at `at` (a field's length, the header's extension size).
    static func bigEndianInt32(_ data: [UInt8], at: Int) throws -> Int {
        guard at + 4 <= data.count else { throw NetworkError("a binary COPY ended inside a field") }
        return Int(
            Int32(
                bitPattern: UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8
                    | UInt32(data[at + 3])))
    }

    /// The tuples of a COPY's output; `key` lists the fields that make a tuple's key.
    static func tuples(_ data: [UInt8], key: [Int]) throws -> [Tuple] {
        func int32(_ at: Int) throws -> Int { try bigEndianInt32(data, at: at) }
        guard data.count >= 19, Array(data[0..<11]) == signature else {
            throw NetworkError("a binary COPY did not start with its signature")
        }
        var at = 19 + (try int32(15))
        var tuples: [Tuple] = []
        while true {
            guard at + 2 <= data.count else { throw NetworkError("a binary COPY ended without its trailer") }
            let count = Int(Int16(bitPattern: UInt16(data[at]) << 8 | UInt16(data[at + 1])))
            if count == -1 { return tuples }
            let start = at
            at += 2
            var fields: [Range<Int>] = []
            fields.reserveCapacity(count)
            for _ in 0..<count {
                let length = try int32(at)
                let end = at + 4 + max(0, length)
                guard end <= data.count else { throw NetworkError("a binary COPY ended inside a field") }
                fields.append(at..<end)
                at = end
            }
            var keyBytes: [UInt8] = []
            for index in key where index < fields.count { keyBytes += data[fields[index]] }
            tuples.append(Tuple(bytes: Array(data[start..<at]), key: keyBytes))
        }
    }

    /// The value of a key of one integer column (a `Tuple.key`: the field's length, then
    /// 2, 4 or 8 bytes), sign-extended; nil for any other key.
    static func integer(ofKey key: [UInt8]) -> Int64? {
        guard key.count >= 6, key[0] == 0, key[1] == 0, key[2] == 0, Int(key[3]) == key.count - 4,
            [2, 4, 8].contains(key.count - 4)
        else { return nil }
        var value: Int64 = key[4] & 0x80 == 0 ? 0 : -1
        for byte in key[4...] { value = value << 8 | Int64(byte) }
        return value
    }

    /// The key of one integer column of `width` bytes holding `value` (nil when it does not fit).
    static func integerKey(_ value: Int64, width: Int) -> [UInt8]? {
        guard [2, 4, 8].contains(width), width == 8 || value >> (width * 8 - 1) == 0 || value >> (width * 8 - 1) == -1
        else { return nil }
        return [0, 0, 0, UInt8(width)] + (0..<width).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// The tuples of a COPY of keys only, each as its fields' lengths and bytes (a `Tuple.key`).
    static func keys(_ data: [UInt8]) throws -> Set<[UInt8]> { Set(try keyList(data)) }

    /// The same, in the order of the COPY.
    static func keyList(_ data: [UInt8]) throws -> [[UInt8]] {
        guard data.count >= 19, Array(data[0..<11]) == signature else {
            throw NetworkError("a binary COPY did not start with its signature")
        }
        func int32(_ at: Int) throws -> Int { try bigEndianInt32(data, at: at) }
        var at = 19 + (try int32(15))
        var keys: [[UInt8]] = []
        while true {
            guard at + 2 <= data.count else { throw NetworkError("a binary COPY ended without its trailer") }
            let count = Int(Int16(bitPattern: UInt16(data[at]) << 8 | UInt16(data[at + 1])))
            if count == -1 { return keys }
            at += 2
            let start = at
            for _ in 0..<count {
                at += 4 + max(0, try int32(at))
                guard at <= data.count else { throw NetworkError("a binary COPY ended inside a field") }
            }
            keys.append(Array(data[start..<at]))
        }
    }

    /// A COPY's input holding `tuples`.
    static func data(_ tuples: [Tuple]) -> [UInt8] {
        var data = header
        data.reserveCapacity(header.count + tuples.reduce(2) { $0 + $1.bytes.count })
        for tuple in tuples { data += tuple.bytes }
        return data + trailer
    }
}
