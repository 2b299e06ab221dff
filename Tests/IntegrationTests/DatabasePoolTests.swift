import Foundation
import Testing
@testable import MusterKit

/// The pool of ready copies behind `muster db restore`: restores back to back take
/// ready copies, a pool emptied by a burst fills back up, clones have pools of their own.
/// A restore takes a copy when the schema changed (with only rows changed it resets in
/// place, see DatabaseResetTests): these tests change the schema before each restore.
@Suite struct DatabasePoolTests {
    static let yaml = DatabaseSnapshotTests.yaml.replacingOccurrences(
        of: "snapshot: { after: migrate }", with: "snapshot: { after: migrate, spares: 3 }")

    /// database → "ready/size", from `muster db list db --json`.
    static func pools(_ stack: TestStack) async throws -> [String: String] {
        let snapshot = try #require(try await DatabaseSnapshotTests.snapshots(stack).first)
        return Dictionary(uniqueKeysWithValues: (snapshot.pools ?? []).map { ($0.database, "\($0.ready)/\($0.size)") })
    }

    /// The copies and leftovers of swapped-out databases in the cluster.
    static func musterCopies(_ stack: TestStack) async throws -> (spares: Int, trash: Int) {
        let env = try await stack.env()
        let admin = try PostgresConnection(
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(env["DB_PORT"] ?? "") user=postgres dbname=postgres"
        )
        let spares =
            Int(try admin.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'muster\\_spare\\_%'") ?? "") ?? -1
        let trash =
            Int(try admin.value("SELECT count(*) FROM pg_database WHERE datname LIKE 'muster\\_trash\\_%'") ?? "") ?? -1
        return (spares, trash)
    }

    static func expectNothingLeft(_ stack: TestStack) async throws {
        #expect(try await stack.muster("down").status == 0)
        let left = ProcessTable.allPids().filter { ProcessTable.commandLine($0)?.contains(stack.directory) == true }
        #expect(left.isEmpty, "left running: \(left.compactMap(ProcessTable.commandLine))")
    }

    @Test func restoresBackToBackDrawFromThePoolAndABurstIsRefilled() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        // up -d returned with the pool full, of the size the stack file asks for.
        #expect(try await Self.pools(stack) == ["shop": "3/3"])
        let list = try await stack.muster("db", "list", "db")
        #expect(list.output.contains("shop 3/3"), "\(list.output)")

        // Three restores back to back: each takes a ready copy and brings the rows back.
        for round in 1...3 {
            try await DatabaseSnapshotTests.connect(stack).query(
                "DELETE FROM items WHERE id > \(round); CREATE TABLE scratch_\(round) (x int)")
            let restore = try await stack.muster("db", "restore", "db")
            #expect(restore.status == 0, "\(restore.output)")
            #expect(restore.output.contains("a ready copy from the pool"), "round \(round): \(restore.output)")
            #expect(try await DatabaseSnapshotTests.connect(stack).value("SELECT count(*) FROM items") == "500")
        }

        // A burst (whether a restore finds a ready copy depends on the refill's pace: an
        // empty pool is checked on its own below): every restore brings the rows back.
        for _ in 1...6 {
            try await DatabaseSnapshotTests.connect(stack).query("CREATE TABLE scratch (x int)")
            let restore = try await stack.muster("db", "restore", "db")
            #expect(restore.status == 0, "\(restore.output)")
            #expect(try await DatabaseSnapshotTests.connect(stack).value("SELECT count(*) FROM items") == "500")
        }
        // The pool fills back up in the background (a bounded wait), to its size and no more,
        // and what the restores swapped out is dropped.
        let refilled = await eventually(within: .patience) {
            (try? await Self.pools(stack)) == ["shop": "3/3"]
        }
        let pools = (try? await Self.pools(stack)) ?? [:]
        #expect(refilled, "\(pools)")
        let settled = await eventually(within: .patience) {
            guard let copies = try? await Self.musterCopies(stack) else { return false }
            return copies.spares == 3 && copies.trash == 0
        }
        let copies = try? await Self.musterCopies(stack)
        #expect(settled, "\(String(describing: copies))")
        try await DatabaseSnapshotTests.connect(stack).query("CREATE TABLE scratch (x int)")
        let restore = try await stack.muster("db", "restore", "db")
        #expect(restore.output.contains("a ready copy from the pool"), "\(restore.output)")
        try await Self.expectNothingLeft(stack)
    }

    @Test func eachCloneHasItsPoolAndARetakenSnapshotEmptiesThemAll() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        try #require(try await stack.muster("up", "-d").status == 0)
        let clone = try await stack.muster("db", "clone", "db", "--count", "2")
        try #require(clone.status == 0, "\(clone.output)")
        let filled = await eventually(within: .patience) {
            (try? await Self.pools(stack)) == ["shop": "3/3", "shop_gw0": "3/3", "shop_gw1": "3/3"]
        }
        let clonePools = (try? await Self.pools(stack)) ?? [:]
        #expect(filled, "\(clonePools)")
        for worker in ["shop_gw0", "shop_gw1"] {
            try await DatabaseSnapshotTests.connect(stack, database: worker).query("DELETE FROM items")
            let restore = try await stack.muster("db", "restore", "db", "--database", worker)
            #expect(
                restore.output.contains("restored \(worker) ") && restore.output.contains("a ready copy from the pool"),
                "\(restore.output)")
            #expect(
                try await DatabaseSnapshotTests.connect(stack, database: worker).value("SELECT count(*) FROM items")
                    == "500")
        }

        // A new snapshot makes every ready copy of the old one stale: restores bring the new rows.
        try await DatabaseSnapshotTests.connect(stack).query("DELETE FROM items WHERE id > 100")
        #expect(try await stack.muster("db", "snapshot", "db").status == 0)
        for database in ["shop", "shop_gw0"] {
            try await DatabaseSnapshotTests.connect(stack, database: database).query("DELETE FROM items")
            #expect(try await stack.muster("db", "restore", "db", "--database", database).status == 0)
            #expect(
                try await DatabaseSnapshotTests.connect(stack, database: database).value("SELECT count(*) FROM items")
                    == "100")
        }
        try await Self.expectNothingLeft(stack)
    }

    @Test func spareCountsThatAreNotWholeNumbersFromZeroAreRefused() async throws {
        for (value, message) in [
            ("-1", "must be between 0 and 32, not -1"), ("two", "must be a whole number, not \"two\""),
        ] {
            let stack = try TestStack(
                DatabaseSnapshotTests.yaml.replacingOccurrences(
                    of: "snapshot: { after: migrate }", with: "snapshot: { after: migrate, spares: \(value) }"))
            defer { stack.cleanup() }
            let check = try await stack.muster("up", "-d")
            #expect(check.status == 2)
            #expect(
                check.output.contains("snapshot.spares (ready copies kept per database) \(message)"), "\(check.output)")
            #expect(check.output.contains("muster.yaml:9:41: "), "FILE:LINE:COLUMN: \(check.output)")
        }
    }

    /// With no ready copies kept, a restore copies the snapshot itself and says the pool
    /// was empty and how long it waited; the rows come back all the same.
    @Test func anEmptyPoolIsSaidAndTheRestoreStillWorks() async throws {
        let stack = try TestStack(
            DatabaseSnapshotTests.yaml.replacingOccurrences(
                of: "snapshot: { after: migrate }", with: "snapshot: { after: migrate, spares: 0 }"))
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        try await DatabaseSnapshotTests.connect(stack).query("DELETE FROM items")
        let restore = try await stack.muster("db", "restore", "db")
        #expect(restore.status == 0, "\(restore.output)")
        #expect(restore.output.contains("the pool was empty: waited"), "\(restore.output)")
        #expect(try await DatabaseSnapshotTests.connect(stack).value("SELECT count(*) FROM items") == "500")
        #expect(try await stack.muster("down").status == 0)
    }
}
