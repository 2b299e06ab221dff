import Foundation
import Testing
@testable import MusterKit

/// The pytest plugin's database per xdist worker (`--muster-db db`): under `muster run`,
/// `-n 4` gets `shop_gw0` ... `shop_gw3` cloned from the snapshot taken after the
/// migration, each worker's DB_DATABASE and DB_URL name its own, and `muster_db` (or
/// the `muster_restore` marker) restores it before each test.
@Suite struct PytestDatabaseTests {
    /// Each test finds the migrated 500 rows (restored), deletes most, and after a pause
    /// still sees exactly what it left: no other worker shares or restores its database.
    static let suite = """
        import os
        import time

        import psycopg2
        import pytest


        def count(url):
            with psycopg2.connect(url) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM items")
                return cursor.fetchone()[0]


        def expected_name():
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            return "shop_" + worker if worker else "shop"


        @pytest.mark.parametrize("i", range(8))
        def test_own_restored_database(muster_db, i):
            assert muster_db.name == expected_name() == os.environ["DB_DATABASE"]
            assert muster_db.url == os.environ["DB_URL"] and muster_db.url.endswith("/" + expected_name())
            assert count(muster_db.url) == 500
            connection = psycopg2.connect(muster_db.url)
            with connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM items WHERE id > %s", (10 + i,))
            connection.close()
            time.sleep(0.2)
            assert count(muster_db.url) == 10 + i


        @pytest.mark.muster_restore
        @pytest.mark.parametrize("i", range(4))
        def test_marker_restores_without_the_fixture(i):
            assert count(os.environ["DB_URL"]) == 500
            with psycopg2.connect(os.environ["DB_URL"]) as connection, connection.cursor() as cursor:
                cursor.execute("DELETE FROM items")
        """

    @Test func eachWorkerGetsItsOwnDatabaseRestoredBeforeEachTest() async throws {
        let stack = try TestStack(DatabaseSnapshotTests.yaml)
        defer { stack.cleanup() }
        let tests = stack.directory + "/tests"
        try FileManager.default.createDirectory(atPath: tests, withIntermediateDirectories: true)
        try Self.suite.write(toFile: tests + "/test_databases.py", atomically: true, encoding: .utf8)
        let pytest = [TestStack.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--muster-db", "db"]

        // With four workers: four clones, one per worker.
        let parallel = try await CLIResult.run(["run", "--"] + pytest + ["-n", "4", "tests"], in: stack.directory)
        #expect(parallel.status == 0, "\(parallel.output)")
        #expect(parallel.output.contains("12 passed"), "\(parallel.output)")
        // Sequential: the database itself.
        let sequential = try await CLIResult.run(["run", "--"] + pytest + ["tests"], in: stack.directory)
        #expect(sequential.status == 0, "\(sequential.output)")
        #expect(sequential.output.contains("12 passed"), "\(sequential.output)")

        // The clones exist, each a database of the cluster.
        let again = try await stack.muster("up", "-d")
        try #require(again.status == 0, "\(again.output)")
        let db = try await DatabaseSnapshotTests.connect(stack, database: "postgres")
        let names = try db.value(
            "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'shop%'")
        #expect(names == "shop,shop_gw0,shop_gw1,shop_gw2,shop_gw3", "\(names ?? "none")")

        // Asked for a service that is not there: one usage line, pytest's exit 4.
        let wrong = try await CLIResult.run(
            [
                "run", "--", TestStack.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--muster-db", "nosuch", "tests",
            ], in: stack.directory)
        #expect(wrong.status == 4, "\(wrong.output)")
        #expect(wrong.output.contains("NOSUCH_DATABASE is not set"), "\(wrong.output)")
        #expect(try await stack.muster("down").status == 0)
    }
}
