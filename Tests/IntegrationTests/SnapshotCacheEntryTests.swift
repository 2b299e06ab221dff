import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// What a snapshot cache entry holds: only what a hit needs. The cluster cached holds
/// ready copies, a per-worker clone, a snapshot set aside under an older key and a
/// database of the user's; the entry keeps the user's database and the snapshot and
/// leaves the rest out, and it was shut down cleanly. A hit from it skips the task,
/// has the migrated rows, makes its pool again in the background, and leaves the
/// entry whole for the next hit whatever the project does to its own cluster.
@Suite struct SnapshotCacheEntryTests {
    typealias Keys = SnapshotKeyIntegrationTests

    static func admin(_ stack: TestStack) async throws -> PostgresConnection {
        let port = try #require(try await stack.env()["DB_PORT"])
        return try PostgresConnection(
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(port) user=postgres dbname=postgres connect_timeout=5"
        )
    }

    static func databases(_ stack: TestStack) async throws -> [String] {
        try await admin(stack).query("SELECT datname FROM pg_database ORDER BY datname").compactMap { $0.first ?? nil }
    }

    @Test func anEntryHoldsOnlyWhatAHitNeedsAndAHitLeavesItWhole() async throws {
        let first = try Keys.makeStack()
        let cache = NSTemporaryDirectory() + "muster-tests/cache-\(UInt32.random(in: 0...UInt32.max))"
        defer {
            first.cleanup()
            try? FileManager.default.removeItem(atPath: cache)
        }
        // A cluster with what an entry leaves out (ready copies, a clone) and a database of the user's.
        var postmaster = try await Keys.up(first)
        let admin = try await Self.admin(first)
        let clone = String(
            decoding: ControlJSON.encode(DatabaseSnapshots.Note(muster: "clone", database: "shop", name: "x")),
            as: UTF8.self)
        for sql in [
            "CREATE DATABASE shop_gw0", "COMMENT ON DATABASE shop_gw0 IS \(admin.literal(clone))",
            "CREATE DATABASE muster_spare_left_over", "CREATE DATABASE reports",
        ] {
            _ = try admin.query(sql)
        }
        try await Keys.down(first, postmaster: postmaster)

        // A changed migration: the task runs, the first key's snapshot is set aside, the cluster is cached.
        try "CREATE TABLE IF NOT EXISTS extra (id int);\n".write(
            toFile: first.directory + "/migrations/002.sql", atomically: true, encoding: .utf8)
        postmaster = try await Keys.up(first, ["--cache", cache])
        #expect(Keys.runs(first) == 2)
        let before = try await Self.databases(first)
        #expect(before.contains { $0.hasPrefix("muster_keyed_") } && before.contains("shop_gw0"), "\(before)")
        try await Keys.down(first, ["--volumes"], postmaster: postmaster)

        let entry = try #require(SnapshotCache(directory: cache).entries().first)
        // Its size is read back as written (muster db list shows it).
        #expect((entry.sizeBytes ?? 0) > 1_000_000, "\(entry)")
        let folder = SnapshotCache(directory: cache).folder + "/" + (entry.name ?? "")
        let bases = try FileManager.default.contentsOfDirectory(atPath: folder + "/base")
        // template0, template1, postgres, shop, its snapshot and the user's reports: nothing else.
        #expect(bases.count == 6, "\(bases)")
        #expect(entry.shared?.count == 2, "template0 and the snapshot: \(String(describing: entry.shared))")
        #expect(!FileManager.default.fileExists(atPath: folder + "/backup_label"), "the entry starts without recovery")
        let wal = try FileManager.default.contentsOfDirectory(atPath: folder + "/pg_wal").filter { $0.count == 24 }
        #expect(wal.count == 1, "\(wal)")

        // Two hits in a row from the same entry, in new project folders.
        for round in 1...2 {
            let hit = try Keys.makeStack(name: "hit\(round)")
            defer { hit.cleanup() }
            try "CREATE TABLE IF NOT EXISTS extra (id int);\n".write(
                toFile: hit.directory + "/migrations/002.sql", atomically: true, encoding: .utf8)
            postmaster = try await Keys.up(hit, ["--cache", cache])
            #expect(Keys.runs(hit) == 0, "round \(round): the migration's command ran")
            #expect(try await Keys.migrateStatus(hit).skipped != nil)
            #expect(try await Keys.count(hit) == "500")
            let names = try await Self.databases(hit)
            #expect(names.contains("reports") && names.contains("shop"), "round \(round): \(names)")
            #expect(
                !names.contains("shop_gw0") && !names.contains("muster_spare_left_over")
                    && !names.contains { $0.hasPrefix("muster_keyed_") }, "round \(round): \(names)")
            // template0 and the snapshot are hard links to the entry's files (one file system here).
            let dataDir = URL(fileURLWithPath: hit.paths.dataDir(for: "db")).resolvingSymlinksInPath().path
            var entryInfo = stat(), dataInfo = stat()
            if stat(folder, &entryInfo) == 0, stat(dataDir, &dataInfo) == 0, entryInfo.st_dev == dataInfo.st_dev {
                for shared in entry.shared ?? [] {
                    var file = stat()
                    #expect(stat(dataDir + "/" + shared + "/PG_VERSION", &file) == 0 && file.st_nlink >= 2, "\(shared)")
                }
            }
            // The pool is made again in the background, to its size (2 by default).
            let filled = await eventually(within: .patience) {
                (try? await Self.databases(hit).filter { $0.hasPrefix("muster_spare_") }.count) == 2
            }
            let spares = (try? await Self.databases(hit)) ?? []
            #expect(filled, "round \(round): \(spares)")
            // What the project does to its cluster (a restore, a retaken snapshot, its
            // deletion) leaves the entry whole: the next round hits it again.
            _ = try await Keys.count(hit, "DELETE FROM items WHERE id > 10")
            #expect(try await hit.muster("db", "restore", "db").status == 0)
            #expect(try await Keys.count(hit) == "500")
            #expect(try await hit.muster("db", "snapshot", "db").status == 0)
            try await Keys.down(hit, ["--volumes"], postmaster: postmaster)
        }
        // A hit notes its use in the description and keeps the rest of it.
        let used = try #require(SnapshotCache(directory: cache).entries().first)
        #expect(used.sizeBytes == entry.sizeBytes && used.used > entry.used, "\(used)")
    }
}
