import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// Keyed snapshots against muster's own Postgres: a task whose snapshot is current is
/// not run (its command appends to `runs.txt`: the file proves it), a changed file runs
/// it again, and a snapshot cache moved to a new project folder starts it migrated.
@Suite struct SnapshotKeyIntegrationTests {
    static let yaml = """
        services:
          db:
            engine: postgres
            port: auto
            databases: [shop]
            snapshot: { after: migrate, key: [migrations/*.sql] }
          migrate:
            command: ["sh", "-c", "echo ran >> runs.txt && for f in migrations/*.sql; do psql \\"$$DATABASE_URL\\" -v ON_ERROR_STOP=1 -qf $$f || exit 1; done"]
            env: { DATABASE_URL: "${db.url}" }
            depends_on: { db: ready }
        """

    /// Each migration may run again over a migrated database (as a real project's tool would skip it).
    static let migration =
        "CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g ON CONFLICT DO NOTHING;\n"

    static func makeStack(name: String = #function) throws -> TestStack {
        let stack = try TestStack(yaml, name: name)
        try FileManager.default.createDirectory(
            atPath: stack.directory + "/migrations", withIntermediateDirectories: true)
        try migration.write(toFile: stack.directory + "/migrations/001.sql", atomically: true, encoding: .utf8)
        return stack
    }

    static func runs(_ stack: TestStack) -> Int {
        ((try? String(contentsOfFile: stack.directory + "/runs.txt", encoding: .utf8)) ?? "").split(separator: "\n")
            .count
    }

    static func count(_ stack: TestStack, _ sql: String = "SELECT count(*) FROM items") async throws -> String? {
        let port = try #require(try await stack.env()["DB_PORT"])
        return try PostgresConnection("host=127.0.0.1 port=\(port) user=postgres dbname=shop connect_timeout=5").value(
            sql)
    }

    static func migrateStatus(_ stack: TestStack) async throws -> ServiceStatus {
        try #require(try await stack.status().services.first { $0.name == "migrate" })
    }

    /// `up -d` with `environment`; returns the postmaster's pid, for the leak check after `down`.
    static func up(
        _ stack: TestStack, _ arguments: [String] = [], environment: [String: String?] = [:],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws -> Int32 {
        let up = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"] + arguments, in: stack.directory, environment: environment)
        try #require(up.status == 0, "\(up.output)", sourceLocation: sourceLocation)
        return try #require(
            try await stack.status().services.first { $0.name == "db" }?.pid, sourceLocation: sourceLocation)
    }

    static func down(
        _ stack: TestStack, _ arguments: [String] = [], postmaster: Int32,
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        let down = try await stack.muster(["down"] + arguments)
        #expect(down.status == 0, "\(down.output)", sourceLocation: sourceLocation)
        #expect(
            await eventually { !ProcessTable.isAlive(postmaster) }, "postgres \(postmaster) is still there",
            sourceLocation: sourceLocation)
    }

    @Test func aCurrentKeySkipsTheTaskAndAChangedFileRunsIt() async throws {
        let stack = try Self.makeStack()
        defer { stack.cleanup() }
        var postmaster = try await Self.up(stack)
        #expect(Self.runs(stack) == 1)
        var migrate = try await Self.migrateStatus(stack)
        #expect(migrate.state == "completed" && migrate.skipped == nil, "\(migrate)")
        let log = try String(contentsOfFile: stack.paths.logFile(for: "migrate"), encoding: .utf8)
        #expect(log.contains("taken after migrate completed, key "), "\(log)")
        _ = try await Self.count(stack, "DELETE FROM items WHERE id > 10")
        try await Self.down(stack, postmaster: postmaster)

        // Nothing changed: the task does not run, the snapshot is restored (the deleted rows are back).
        postmaster = try await Self.up(stack)
        #expect(Self.runs(stack) == 1, "the migration's command ran again")
        migrate = try await Self.migrateStatus(stack)
        #expect(migrate.state == "completed", "\(migrate)")
        let reason = try #require(migrate.skipped, "\(migrate)")
        #expect(reason.hasPrefix("skipped: snapshot for key ") && reason.hasSuffix("… is current"), "\(reason)")
        #expect(try await Self.count(stack) == "500")
        let completed = stack.events().last { $0.service == "migrate" && $0.type == .completed }
        #expect(completed?.reason == reason, "\(String(describing: completed))")
        let ps = try await stack.muster("ps")
        #expect(ps.output.contains("(task, skipped: snapshot for key "), "\(ps.output)")
        try await Self.down(stack, postmaster: postmaster)

        // A changed migration: a new key, the task runs, a new snapshot is taken.
        let original = try String(contentsOfFile: stack.directory + "/migrations/001.sql", encoding: .utf8)
        try "CREATE TABLE IF NOT EXISTS extra (id int);\n".write(
            toFile: stack.directory + "/migrations/002.sql", atomically: true, encoding: .utf8)
        postmaster = try await Self.up(stack)
        #expect(Self.runs(stack) == 2)
        #expect(try await Self.migrateStatus(stack).skipped == nil)
        #expect(try await Self.count(stack, "SELECT to_regclass('public.extra') IS NOT NULL") == "t")
        try await Self.down(stack, postmaster: postmaster)

        // Back to the first files (a branch switched back): its snapshot was set aside, not dropped.
        unlink(stack.directory + "/migrations/002.sql")
        #expect(try String(contentsOfFile: stack.directory + "/migrations/001.sql", encoding: .utf8) == original)
        postmaster = try await Self.up(stack)
        #expect(Self.runs(stack) == 2, "the first key's snapshot was found again")
        #expect(try await Self.migrateStatus(stack).skipped != nil)
        #expect(try await Self.count(stack, "SELECT to_regclass('public.extra') IS NULL") == "t")
        let list = try await stack.muster("db", "list", "db")
        #expect(
            list.status == 0 && list.output.contains("KEY") && list.output.contains("SET ASIDE (KEY)"), "\(list.output)"
        )
        try await Self.down(stack, ["--volumes"], postmaster: postmaster)
    }

    @Test func aCacheFolderMovedToANewProjectFolderStartsItMigrated() async throws {
        let first = try Self.makeStack()
        let cache = NSTemporaryDirectory() + "muster-tests/cache-\(UInt32.random(in: 0...UInt32.max))"
        let moved = cache + "-restored"
        defer {
            first.cleanup()
            try? FileManager.default.removeItem(atPath: cache)
            try? FileManager.default.removeItem(atPath: moved)
        }
        var postmaster = try await Self.up(first, ["--cache", cache])
        #expect(Self.runs(first) == 1)
        let log = try String(contentsOfFile: first.paths.logFile(for: "migrate"), encoding: .utf8)
        #expect(log.contains("muster: cluster cached in "), "\(log)")
        let entries = SnapshotCache(directory: cache).entries()
        #expect(entries.count == 1 && entries.first?.database == "shop", "\(entries)")
        try await Self.down(first, ["--volumes"], postmaster: postmaster)

        // Another checkout in another folder, the cache restored to another path (as a CI cache is).
        #expect(rename(cache, moved) == 0)
        let second = try Self.makeStack()
        defer { second.cleanup() }
        #expect(second.directory != first.directory)
        postmaster = try await Self.up(second, environment: ["MUSTER_CACHE_DIR": moved])
        #expect(Self.runs(second) == 0, "the migration's command ran in the new folder")
        let migrate = try await Self.migrateStatus(second)
        #expect(migrate.skipped?.hasPrefix("skipped: snapshot for key ") == true, "\(migrate)")
        #expect(try await Self.count(second) == "500")
        let dbLog = try String(contentsOfFile: second.paths.logFile(for: "db"), encoding: .utf8)
        #expect(dbLog.contains("cluster copied from the snapshot cache"), "\(dbLog)")
        // A restore works at once (the pool is made in the background; while it is short, the restore copies).
        #expect(try await second.muster("db", "restore", "db").status == 0)
        let list = try await CLIResult.run(
            command: [TestStack.binary, "db", "list", "db"], in: second.directory,
            environment: ["MUSTER_CACHE_DIR": moved])
        #expect(list.output.contains("CACHED (KEY)"), "\(list.output)")
        try await Self.down(second, ["--volumes"], postmaster: postmaster)
    }

    @Test func aGlobMatchingNothingWarnsAndAnUnwritableCacheIsRefused() async throws {
        let stack = try TestStack(Self.yaml.replacingOccurrences(of: "migrations/*.sql", with: "migrations/*.sqll"))
        defer { stack.cleanup() }
        let check = try await stack.muster("check")
        #expect(check.status == 0, "\(check.output)")
        #expect(
            check.output.contains("muster.yaml:7:")
                && check.output.contains("snapshot.key migrations/*.sqll matches no file"), "\(check.output)")

        // A cache folder that cannot be made (its parent is a file; root can write anywhere else).
        let blocker = stack.directory + "/not-a-folder"
        try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
        for (arguments, environment, option) in [
            (["--cache", blocker + "/cache"], [String: String?](), "--cache"),
            ([], ["MUSTER_CACHE_DIR": blocker + "/cache"], "MUSTER_CACHE_DIR"),
        ] {
            let up = try await CLIResult.run(
                command: [TestStack.binary, "up", "-d"] + arguments, in: stack.directory, environment: environment)
            #expect(up.status == 2, "\(up.output)")
            let lines = up.output.split(separator: "\n").filter { !$0.hasPrefix("warning:") }
            #expect(
                lines.count == 1
                    && lines[0].contains("the snapshot cache \(blocker)/cache (\(option)) is not writable"),
                "\(up.output)")
            #expect(!FileManager.default.fileExists(atPath: stack.paths.stateDir + "/state.json"), "nothing started")
            let ps = try await stack.muster("ps", "--json")
            #expect(
                ps.output.contains("\"running\":false") || ps.output.contains("\"running\" : false"), "\(ps.output)")
        }
        #expect(try String(contentsOfFile: blocker, encoding: .utf8) == "x")

        // A folder no one may write to (chmod a-w) is refused as well, root included, and
        // nothing is made in it.
        let readOnly = stack.directory + "/read-only-cache"
        #expect(mkdir(readOnly, 0o555) == 0 && chmod(readOnly, 0o555) == 0)
        defer { chmod(readOnly, 0o755) }
        let up = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"], in: stack.directory, environment: ["MUSTER_CACHE_DIR": readOnly])
        #expect(up.status == 2, "\(up.output)")
        let lines = up.output.split(separator: "\n").filter { !$0.hasPrefix("warning:") }
        #expect(
            lines.count == 1 && lines[0].contains("the snapshot cache \(readOnly) (MUSTER_CACHE_DIR) is not writable"),
            "\(up.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: readOnly).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.stateDir + "/state.json"), "nothing started")
    }

    /// As root, Postgres runs as the `postgres` user, who cannot enter a cache folder
    /// under a private (0700) folder such as `/root` or a `mktemp -d` one. The cache is
    /// written all the same, and a new project starts from it.
    @Test(.enabled(if: geteuid() == 0)) func aCacheFolderThePostgresUserCannotEnterIsWrittenAndHit() async throws {
        let hidden = NSTemporaryDirectory() + "muster-tests/private-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: hidden, withIntermediateDirectories: true)
        #expect(chmod(hidden, 0o700) == 0)
        let cache = hidden + "/cache"
        let first = try Self.makeStack()
        defer {
            first.cleanup()
            try? FileManager.default.removeItem(atPath: hidden)
        }
        var postmaster = try await Self.up(first, ["--cache", cache])
        #expect(Self.runs(first) == 1)
        let log = try String(contentsOfFile: first.paths.logFile(for: "migrate"), encoding: .utf8)
        #expect(log.contains("muster: cluster cached in "), "\(log)")
        #expect(SnapshotCache(directory: cache).entries().count == 1)
        try await Self.down(first, ["--volumes"], postmaster: postmaster)
        // Nothing left where the copy was made.
        let staging = "/var/lib/muster/postgres-cache-staging"
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []).isEmpty)

        let second = try Self.makeStack()
        defer { second.cleanup() }
        postmaster = try await Self.up(second, ["--cache", cache])
        #expect(Self.runs(second) == 0, "the migration's command ran")
        #expect(try await Self.count(second) == "500")
        try await Self.down(second, ["--volumes"], postmaster: postmaster)
    }
}

extension TestStack {
    func muster(_ arguments: [String]) async throws -> CLIResult {
        try await CLIResult.run(arguments, in: directory)
    }
}
