import Foundation
import Testing
@testable import MusterKit

/// Restores in place: when only rows changed since the last restore, `muster db restore`
/// reloads just the changed tables (and those whose foreign keys reach them) and sets the
/// sequences back; a schema change falls back to a whole copy. Against a real Postgres.
@Suite struct DatabaseResetTests {
    /// Items, notes that point at items, a table no test touches, and a sequence of its own.
    static let yaml = DatabaseSnapshotTests.migrated(
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(8, 2)); CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item_id int NOT NULL REFERENCES items(id), body text, body_length int GENERATED ALWAYS AS (length(body)) STORED); CREATE TABLE untouched (k text PRIMARY KEY); CREATE SEQUENCE tickets START 100; SELECT setval('tickets', 120); INSERT INTO items (name, price) SELECT 'item ' || g, g * 1.5 FROM generate_series(1, 500) g; INSERT INTO notes (item_id, body) SELECT 1 + g % 500, repeat('n', g % 7) FROM generate_series(1, 300) g; INSERT INTO untouched VALUES ('a'), ('b')"
    )

    /// Every row and every sequence, as one text to compare.
    static func contents(_ stack: TestStack, database: String = "shop") async throws -> String {
        let connection = try await DatabaseSnapshotTests.connect(stack, database: database)
        defer { connection.close() }
        return try connection.query(
            """
            SELECT (SELECT md5(string_agg(i::text, ',' ORDER BY id)) FROM items i),
                   (SELECT md5(string_agg(n::text, ',' ORDER BY id)) FROM notes n),
                   (SELECT string_agg(k, ',' ORDER BY k) FROM untouched),
                   (SELECT last_value || '/' || is_called FROM items_id_seq),
                   (SELECT last_value || '/' || is_called FROM notes_id_seq),
                   (SELECT last_value || '/' || is_called FROM tickets),
                   (SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema = 'public')
            """
        ).map { $0.map { $0 ?? "NULL" }.joined(separator: " ") }.joined(separator: "\n")
    }

    static func restore(_ stack: TestStack, database: String = "shop") async throws -> String {
        let restore = try await stack.muster("db", "restore", "db", "--database", database)
        #expect(restore.status == 0, "\(restore.output)")
        return restore.output
    }

    /// Restores until one resets in place (the first ones swap copies in while the
    /// snapshot's source is made in the background).
    static func untilInPlace(_ stack: TestStack, database: String = "shop") async throws {
        var outputs: [String] = []
        let inPlace = await eventually(within: .patience) {
            let output = (try? await Self.restore(stack, database: database)) ?? ""
            outputs.append(output)
            return output.contains("reset in place")
        }
        try #require(inPlace, "\(outputs)")
    }

    @Test func restoresBackToBackResetInPlaceAndBringRowsAndSequencesBack() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let snapshot = try await Self.contents(stack)
        try await Self.untilInPlace(stack)
        #expect(try await Self.contents(stack) == snapshot)

        // What tests do, a different mix each round; every restore brings back every row and sequence.
        let changes = [
            "INSERT INTO items (name) VALUES ('new'); UPDATE items SET price = 0 WHERE id < 50; SELECT nextval('tickets')",
            "DELETE FROM notes WHERE id % 3 = 0; INSERT INTO notes (item_id, body) VALUES (7, 'written by a test')",
            "TRUNCATE notes",
            "DELETE FROM notes; DELETE FROM items WHERE id > 250; SELECT setval('items_id_seq', 5, false)",
            "BEGIN; INSERT INTO items (name) VALUES ('rolled back'); ROLLBACK; SELECT nextval('notes_id_seq')",
            "SELECT nextval('tickets'), nextval('items_id_seq')",
        ]
        for (round, sql) in changes.enumerated() {
            let connection = try await DatabaseSnapshotTests.connect(stack)
            try connection.query(sql)
            connection.close()
            #expect(try await Self.contents(stack) != snapshot, "round \(round): the change changed nothing")
            let output = try await Self.restore(stack)
            #expect(output.contains("reset in place"), "round \(round): \(output)")
            #expect(try await Self.contents(stack) == snapshot, "round \(round) (\(sql)): \(output)")
        }
        // Nothing changed: nothing reloaded, still equal.
        let idle = try await Self.restore(stack)
        #expect(idle.contains("reset in place: no table had changed"), "\(idle)")
        #expect(try await Self.contents(stack) == snapshot)

        // A session still open (with a change committed, its counts not yet reported) is ended and undone.
        let open = try await DatabaseSnapshotTests.connect(stack)
        try open.query("INSERT INTO items (name) VALUES ('from an open session')")
        let ended = try await Self.restore(stack)
        #expect(ended.contains("reset in place: 1 table reloaded") && ended.contains("ended 1 session"), "\(ended)")
        #expect(try await Self.contents(stack) == snapshot)
        open.close()

        // The snapshot's source is muster's alone: the tables' owner cannot connect to it.
        let env = try await stack.env()
        let source = DatabaseReset.sourceName(of: DatabaseSnapshots.snapshotDatabase(of: "shop", name: "default"))
        #expect(throws: (any Error).self) {
            try PostgresConnection(
                "host=127.0.0.1 port=\(env["DB_PORT"] ?? "") user=shop password=s3cret dbname=\(source) connect_timeout=5"
            )
        }
        try await DatabasePoolTests.expectNothingLeft(stack)
    }

    @Test func aSchemaChangeSwapsInAWholeCopyAndTheNextRestoreIsInPlaceAgain() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let snapshot = try await Self.contents(stack)
        try await Self.untilInPlace(stack)
        for sql in [
            "ALTER TABLE items ADD COLUMN extra int", "CREATE TABLE scratch (x int); INSERT INTO scratch VALUES (1)",
            "CREATE INDEX ON items (name); DELETE FROM items WHERE id = 499", "COMMENT ON TABLE untouched IS 'changed'",
        ] {
            let connection = try await DatabaseSnapshotTests.connect(stack)
            try connection.query(sql)
            connection.close()
            let output = try await Self.restore(stack)
            #expect(!output.contains("reset in place"), "\(sql): \(output)")
            #expect(try await Self.contents(stack) == snapshot, "\(sql)")
            let connection2 = try await DatabaseSnapshotTests.connect(stack)
            #expect(
                try connection2.value(
                    "SELECT count(*) FROM pg_class WHERE relname IN ('scratch') OR relname LIKE 'items_name%'") == "0")
            #expect(try connection2.value("SELECT obj_description('untouched'::regclass)") == nil)
            connection2.close()
        }
        try await DatabaseSnapshotTests.connect(stack).query("DELETE FROM notes")
        let output = try await Self.restore(stack)
        #expect(output.contains("reset in place: 1 table reloaded"), "\(output)")
        #expect(try await Self.contents(stack) == snapshot)
        try await DatabasePoolTests.expectNothingLeft(stack)
    }

    /// Rows are put back one by one where a table has a primary key (a composite one here),
    /// whole where it has none; keys changed, a key deleted and inserted again with other
    /// values, a unique value taken over, a savepoint rolled back, and muster's own session
    /// on the database ended by a test: every restore brings back exactly the snapshot.
    @Test func rowsComeBackByKeyAndTablesWithoutOneWhole() async throws {
        let yaml = DatabaseSnapshotTests.migrated(
            "CREATE TABLE lines (order_id int, line int, sku text NOT NULL UNIQUE, qty int, PRIMARY KEY (order_id, line)); CREATE TABLE log (at int, message text); INSERT INTO lines SELECT g / 10, g % 10, 'sku-' || g, g FROM generate_series(1, 400) g; INSERT INTO log SELECT g, 'line ' || g FROM generate_series(1, 50) g"
        )
        let stack = try TestStack(yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        func contents() async throws -> String {
            let connection = try await DatabaseSnapshotTests.connect(stack)
            defer { connection.close() }
            return try connection.value(
                """
                SELECT (SELECT md5(string_agg(l::text, ',' ORDER BY order_id, line)) FROM lines l) || ' '
                    || (SELECT md5(string_agg(g::text, ',' ORDER BY at, message)) FROM log g) || ' '
                    || (SELECT count(*) FROM lines) || ' ' || (SELECT count(*) FROM log)
                """) ?? ""
        }
        let snapshot = try await contents()
        try await Self.untilInPlace(stack)
        let changes = [
            "UPDATE lines SET line = line + 100 WHERE order_id = 3",
            "DELETE FROM lines WHERE order_id = 4 AND line = 2; INSERT INTO lines VALUES (4, 2, 'sku-new', -1)",
            "UPDATE lines SET sku = 'taken' WHERE order_id = 5 AND line = 1; INSERT INTO lines VALUES (99, 1, 'sku-51', 0)",
            "BEGIN; INSERT INTO lines VALUES (98, 1, 'kept', 1); SAVEPOINT s; UPDATE lines SET qty = 0; ROLLBACK TO s; COMMIT",
            "DELETE FROM log WHERE at < 10; INSERT INTO log VALUES (1, 'line 1'), (1000, 'new')",
            "DELETE FROM lines WHERE qty > 200",
            "UPDATE lines SET qty = qty + 1; UPDATE lines SET qty = qty - 1 WHERE order_id < 20",
            "UPDATE lines SET line = 50 WHERE order_id = 6 AND line = 1; UPDATE lines SET line = 1 WHERE order_id = 6 AND line = 2; UPDATE lines SET line = 2 WHERE order_id = 6 AND line = 50",
            "BEGIN; INSERT INTO lines VALUES (97, 1, 'gone', 1); ROLLBACK; UPDATE lines SET order_id = 70 WHERE order_id = 8 AND line = 9",
        ]
        for sql in changes {
            if sql == changes[5] {
                // A superuser's test ends every other session, muster's kept one included.
                let env = try await stack.env()
                let admin = try PostgresConnection(
                    "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(env["DB_PORT"] ?? "") user=postgres dbname=shop"
                )
                #expect(
                    try admin.value(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'shop' AND pid <> pg_backend_pid()"
                    ) == "1")
                admin.close()
            }
            let connection = try await DatabaseSnapshotTests.connect(stack)
            try connection.query(sql)
            connection.close()
            #expect(try await contents() != snapshot, "\(sql): the change changed nothing")
            let output = try await Self.restore(stack)
            #expect(output.contains("reset in place"), "\(sql): \(output)")
            #expect(try await contents() == snapshot, "\(sql): \(output)")
        }
        let output = try await Self.restore(stack)
        #expect(output.contains("reset in place"), "\(output)")
        #expect(try await contents() == snapshot)
        try await DatabasePoolTests.expectNothingLeft(stack)
    }

    /// A worker's clone resets in place from the same source; a retaken snapshot is what later restores bring back.
    @Test func clonesResetInPlaceAndARetakenSnapshotIsHonoured() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let snapshot = try await Self.contents(stack)
        #expect(try await stack.muster("db", "clone", "db", "--count", "2").status == 0)
        try await Self.untilInPlace(stack, database: "shop_gw1")
        try await DatabaseSnapshotTests.connect(stack, database: "shop_gw1").query("DELETE FROM notes WHERE id < 10")
        #expect(try await Self.restore(stack, database: "shop_gw1").contains("reset in place: 1 table reloaded"))
        #expect(try await Self.contents(stack, database: "shop_gw1") == snapshot)

        try await Self.untilInPlace(stack)
        try await DatabaseSnapshotTests.connect(stack).query("DELETE FROM notes WHERE id > 100")
        #expect(try await stack.muster("db", "snapshot", "db").status == 0)
        let retaken = try await Self.contents(stack)
        #expect(retaken != snapshot)
        for _ in 1...3 {
            try await DatabaseSnapshotTests.connect(stack).query(
                "DELETE FROM notes; INSERT INTO items (name) VALUES ('x')")
            _ = try await Self.restore(stack)
            #expect(try await Self.contents(stack) == retaken)
        }
        try await DatabasePoolTests.expectNothingLeft(stack)
    }
}
