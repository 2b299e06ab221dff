import Foundation
import Testing
@testable import MusterKit

/// A failed test's database kept for someone to look at (`--muster-keep-failed`,
/// `muster db keep`): under a name that says which test, never restored over, listed,
/// dropped by `muster db drop` and gone with `down --volumes`.
@Suite struct KeptDatabaseTests {
    /// Eight tests over four workers; test_checkout leaves 7 rows and fails.
    static let suite = """
        import psycopg2
        import pytest


        def leave(url, rows):
            with psycopg2.connect(url) as connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM items WHERE id > %s", (rows,))


        @pytest.mark.parametrize("i", range(7))
        def test_passes(muster_db, i):
            leave(muster_db.url, 20 + i)


        def test_checkout(muster_db):
            leave(muster_db.url, 7)
            assert False, "the checkout went wrong"
        """

    static func admin(_ stack: TestStack) async throws -> PostgresConnection {
        let env = try await stack.env()
        return try PostgresConnection(
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(env["DB_PORT"] ?? "") user=postgres dbname=postgres"
        )
    }

    static func kept(_ stack: TestStack) async throws -> [String] {
        try await admin(stack).query(
            "SELECT datname FROM pg_database WHERE datname LIKE '%\\_failed\\_%' ORDER BY datname"
        )
        .compactMap { $0.first ?? nil }
    }

    @Test func pytestKeepsExactlyTheFailedTestsDatabase() async throws {
        let stack = try TestStack(DatabaseSnapshotTests.yaml)
        defer { stack.cleanup() }
        let tests = stack.directory + "/tests"
        try FileManager.default.createDirectory(atPath: tests, withIntermediateDirectories: true)
        try Self.suite.write(toFile: tests + "/test_shop.py", atomically: true, encoding: .utf8)
        // This worktree's plugin, ahead of the one installed in the shared venv.
        let run = try await CLIResult.run(
            command: [
                TestStack.binary, "run", "--", TestStack.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--muster-db", "db", "--muster-keep-failed", "-n", "4", "tests",
            ],
            in: stack.directory,
            environment: ["PYTHONPATH": TestStack.repoRoot + "/integrations/pytest-muster/src"])
        #expect(run.status != 0, "\(run.output)")
        #expect(run.output.contains("1 failed, 7 passed"), "\(run.output)")
        // The test's muster section names the kept database and how to connect to it.
        let line = try #require(
            run.output.split(separator: "\n").first { $0.contains("kept the failed test's database as ") },
            "\(run.output)")
        let name = try #require(
            line.split(separator: " ").first { $0.hasSuffix("_failed_test_checkout:") }.map { String($0.dropLast()) },
            "\(line)")
        #expect(name.hasPrefix("shop_gw"), "\(name)")
        #expect(line.contains("postgres") && line.hasSuffix("/" + name), "\(line)")

        try #require(try await stack.muster("up", "-d").status == 0)
        // Exactly one database kept, with the rows the test left.
        #expect(try await Self.kept(stack) == [name])
        // The connection string printed under the `muster run` that has since stopped the
        // stack works once it is up again (its Postgres has the same port).
        let url = try #require(line.split(separator: " ").last.map(String.init))
        let printed = try await CLIResult.run(
            command: [
                TestStack.python, "-c",
                "import psycopg2, sys; c = psycopg2.connect(sys.argv[1]); k = c.cursor(); k.execute('SELECT count(*) FROM items'); print('rows', k.fetchone()[0])",
                url,
            ], in: stack.directory)
        #expect(printed.output.contains("rows 7"), "\(url): \(printed.output)")
        let db = try await DatabaseSnapshotTests.connect(stack, database: name)
        #expect(try db.value("SELECT count(*) FROM items") == "7")
        db.close()
        let list = try await stack.muster("db", "list", "db")
        #expect(list.output.contains(name) && list.output.contains("test_checkout"), "\(list.output)")

        // Never restored over; a name that is taken is refused; drop removes it.
        let restore = try await stack.muster("db", "restore", "db", "--database", name)
        #expect(restore.status == 2)
        #expect(restore.output.contains("never restored over"), "\(restore.output)")
        let clash = try await stack.muster("db", "keep", "db", "--database", "shop", "--as", name)
        #expect(clash.status == 2)
        #expect(clash.output.contains("database \(name) exists"), "\(clash.output)")
        #expect(clash.output.contains("muster db drop db \(name)"), "a kept database may be dropped: \(clash.output)")
        // A database muster did not keep: another name is the way out, not `db drop` (which refuses it).
        let onOwn = try await stack.muster("db", "keep", "db", "--database", "shop", "--as", "shop_gw0")
        #expect(onOwn.status == 2)
        #expect(
            onOwn.output.contains("database shop_gw0 exists") && onOwn.output.contains("--as NAME"), "\(onOwn.output)")
        #expect(!onOwn.output.contains("db drop"), "\(onOwn.output)")
        let long = try await stack.muster(
            "db", "keep", "db", "--database", "shop", "--as", String(repeating: "k", count: 64))
        #expect(long.status == 2)
        #expect(long.output.contains("give one of at most 63 bytes"), "\(long.output)")
        #expect(try await Self.kept(stack) == [name], "nothing half-done by the refused keeps")
        let notKept = try await stack.muster("db", "drop", "db", "shop")
        #expect(notKept.status == 2, "\(notKept.output)")
        let drop = try await stack.muster("db", "drop", "db", name)
        #expect(drop.status == 0, "\(drop.output)")
        #expect(try await Self.kept(stack).isEmpty)
        try await DatabasePoolTests.expectNothingLeft(stack)
    }

    @Test func keptNamesSayWhichTestAndAreBoundedAndUnique() async throws {
        let stack = try TestStack(DatabaseSnapshotTests.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let test = "test_" + String(repeating: "checkout_", count: 10) + "[param-1]"
        var names: [String] = []
        for _ in 0..<2 {
            try await DatabaseSnapshotTests.connect(stack).query("DELETE FROM items WHERE id > 3")
            let keep = try await stack.muster("db", "keep", "db", "--test", test)
            #expect(keep.status == 0, "\(keep.output)")
            // shop is the snapshot again, for the next test.
            #expect(try await DatabaseSnapshotTests.connect(stack).value("SELECT count(*) FROM items") == "500")
        }
        names = try await Self.kept(stack)
        #expect(names.count == 2, "\(names)")
        #expect(names.allSatisfy { $0.hasPrefix("shop_failed_test_checkout_") && $0.utf8.count <= 63 }, "\(names)")
        #expect(Set(names).count == 2)
        for name in names {
            #expect(
                try await DatabaseSnapshotTests.connect(stack, database: name).value("SELECT count(*) FROM items")
                    == "3")
        }
        // With one Postgres service the service may be left out, as the issue writes them:
        // `muster db list` shows them, `muster db drop NAME` drops one.
        let list = try await stack.muster("db", "list")
        #expect(list.status == 0 && names.allSatisfy { list.output.contains($0) }, "\(list.output)")
        let dropOne = try await stack.muster("db", "drop", names[0])
        #expect(dropOne.status == 0, "\(dropOne.output)")
        #expect(try await Self.kept(stack) == [names[1]])
        // The service alone names nothing to drop: refused, naming what is kept.
        let serviceOnly = try await stack.muster("db", "drop", "db")
        #expect(serviceOnly.status == 2 && serviceOnly.output.contains(names[1]), "\(serviceOnly.output)")
        #expect(try await Self.kept(stack) == [names[1]])
        // down --volumes takes them with the cluster.
        #expect(try await stack.muster("down", "--volumes").status == 0)
        try #require(try await stack.muster("up", "-d").status == 0)
        #expect(try await Self.kept(stack).isEmpty)
        try await DatabasePoolTests.expectNothingLeft(stack)
    }
}
