import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `muster db snapshot|restore|clone|list` and `/v1/db/*` against muster's own Postgres,
/// with the snapshot taken by the stack itself after a migration task.
@Suite struct DatabaseSnapshotTests {
    /// A Postgres with a `shop` database, a migration task (psql, as a real project's
    /// script would be) running `sql`, and a snapshot after it.
    static func migrated(_ sql: String) -> String {
        """
        services:
          db:
            engine: postgres
            port: auto
            databases: [shop]
            user: shop
            password: s3cret
            snapshot: { after: migrate }
            ready: { postgres: {}, start_timeout: 5m }  # a loaded CI machine took over a minute
          migrate:
            command: ["psql", "${db.url}", "-v", "ON_ERROR_STOP=1", "-qc", "\(sql)"]
            depends_on: { db: ready }
        """
    }

    static let yaml = migrated(
        "CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g ON CONFLICT DO NOTHING"
    )

    static func connect(_ stack: TestStack, database: String = "shop") async throws -> PostgresConnection {
        let env = try await stack.env()
        let port = try #require(env["DB_PORT"])
        return try PostgresConnection(
            "host=127.0.0.1 port=\(port) user=shop password=s3cret dbname=\(database) connect_timeout=5")
    }

    static func snapshots(_ stack: TestStack) async throws -> [DatabaseSnapshots.Snapshot] {
        let result = try await stack.muster("db", "list", "db", "--json")
        try #require(result.status == 0, "db list: \(result.output)")
        return try ControlJSON.decode([DatabaseSnapshots.Snapshot].self, from: Data(result.output.utf8))
    }

    @Test func theSnapshotAfterTheMigrationRestoresChangedRows() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        // up -d returned with the migrated snapshot ready.
        #expect(try await Self.snapshots(stack).map(\.name) == ["default"])
        let log = try String(contentsOfFile: stack.paths.logFile(for: "migrate"), encoding: .utf8)
        #expect(log.contains("snapshot \"default\" of shop taken after migrate completed"), "\(log)")

        let db = try await Self.connect(stack)
        try db.query("DELETE FROM items WHERE id > 10")
        try db.query("CREATE TABLE leftovers (id int)")
        let restore = try await stack.muster("db", "restore", "db")
        #expect(restore.status == 0, "\(restore.output)")
        // The session that held the database was ended, and said so.
        #expect(restore.output.contains("ended 1 session"), "\(restore.output)")
        let fresh = try await Self.connect(stack)
        #expect(try fresh.value("SELECT count(*) FROM items") == "500")
        #expect(try fresh.value("SELECT to_regclass('public.leftovers') IS NULL") == "t")
        // Ownership is the stack's user, as before: the app can still write.
        try fresh.query("INSERT INTO items VALUES (501, 'after restore')")

        // Again right away (the spare may still be in the making): same result.
        #expect(try await stack.muster("db", "restore", "db").status == 0)
        #expect(try await Self.connect(stack).value("SELECT count(*) FROM items") == "500")
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func clonesAreIndependentAndRestoreAtTheSameTime() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let clone = try await stack.muster("db", "clone", "db", "--count", "4")
        try #require(clone.status == 0, "\(clone.output)")
        #expect(clone.output.contains("shop_gw0, shop_gw1, shop_gw2, shop_gw3"), "\(clone.output)")
        for index in 0..<4 {
            let db = try await Self.connect(stack, database: "shop_gw\(index)")
            try db.query("DELETE FROM items WHERE id > \(index)")
        }
        for index in 0..<4 {
            #expect(
                try await Self.connect(stack, database: "shop_gw\(index)").value("SELECT count(*) FROM items")
                    == String(index))
        }
        #expect(
            try await Self.connect(stack).value("SELECT count(*) FROM items") == "500",
            "the clones share nothing with shop")

        // Four processes restore four databases at once, as four test workers would.
        var pids: [(pid_t, String)] = []
        for index in 0..<4 {
            let output = stack.directory + "/restore-\(index).out"
            let pid = try await CLIResult.spawn(
                [TestStack.binary, "db", "restore", "db", "--database", "shop_gw\(index)"],
                in: stack.directory, output: output)
            pids.append((pid, output))
        }
        for (pid, output) in pids {
            let status = await ProcessReaper.shared.exitStatus(of: pid)
            ProcessReaper.shared.forget(pid)
            #expect(status == .exited(0), "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        }
        for index in 0..<4 {
            #expect(
                try await Self.connect(stack, database: "shop_gw\(index)").value("SELECT count(*) FROM items") == "500")
        }
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func missingSnapshotsAndForeignDatabasesAreRefused() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let missing = try await stack.muster("db", "restore", "db", "--name", "nightly")
        #expect(missing.status == 2)
        #expect(
            missing.output.contains("no snapshot \"nightly\" of database shop")
                && missing.output.contains("snapshots: shop/default"),
            "\(missing.output)")
        let notPostgres = try await stack.muster("db", "snapshot", "migrate")
        #expect(notPostgres.status == 2)
        #expect(notPostgres.output.contains("not a Postgres service"), "\(notPostgres.output)")
        // A database muster did not clone is never overwritten by a clone.
        let env = try await stack.env()
        let admin = try PostgresConnection(
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(env["DB_PORT"] ?? "") user=postgres dbname=postgres"
        )
        try admin.query("CREATE DATABASE shop_gw0")
        let clash = try await stack.muster("db", "clone", "db", "--count", "1")
        #expect(clash.status == 2)
        #expect(clash.output.contains("shop_gw0 exists and is not a clone muster made"), "\(clash.output)")
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func snapshotsSurviveDownAndGoWithVolumes() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        #expect(try await stack.muster("db", "snapshot", "db", "--name", "nightly").status == 0)
        #expect(try await stack.muster("down").status == 0)
        try #require(try await stack.muster("up", "-d").status == 0)
        #expect(Set(try await Self.snapshots(stack).map(\.name)) == ["default", "nightly"])

        // The control API alone resets a database, as a test fixture would.
        let client = try #require(ControlClient.connect(stack.paths))
        try await Self.connect(stack).query("DELETE FROM items")
        let response = try client.request(
            "POST", "/v1/db/restore", body: Data(#"{"service":"db","name":"nightly"}"#.utf8))
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        #expect(try await Self.connect(stack).value("SELECT count(*) FROM items") == "500")
        let bad = try client.request("POST", "/v1/db/restore", body: Data(#"{"service":"db","name":"nope"}"#.utf8))
        #expect(bad.status == 400)

        #expect(try await stack.muster("down", "--volumes").status == 0)
        // The migration runs again on a fresh cluster, so only its own snapshot is there.
        try #require(try await stack.muster("up", "-d").status == 0)
        #expect(try await Self.snapshots(stack).map(\.name) == ["default"])
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func aSnapshotAfterAServiceThatIsNotThereIsRefused() async throws {
        let stack = try TestStack(
            """
            services:
              db: { engine: postgres, port: auto, snapshot: { after: migrat } }
              migrate: { command: ["true"], depends_on: { db: ready } }
            """)
        defer { stack.cleanup() }
        let check = try await stack.muster("check")
        #expect(check.status == 2)
        #expect(
            check.output.contains("snapshot after \"migrat\", which is not a service of this stack"), "\(check.output)")
        #expect(check.output.contains("migrate"), "a did-you-mean hint: \(check.output)")
    }
}
