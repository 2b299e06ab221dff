import Foundation
import Testing
@testable import MusterKit

/// The restore `up` makes when a keyed snapshot is current, against a `muster db
/// snapshot` sent while `up` is still starting: the restore takes the database's turn
/// (and the pool's), so the snapshot comes before or after it, never in between. The
/// order is made without timing: the test holds the database's turn until the restore
/// and then the snapshot queue behind it (`DatabaseTurns.waiters`).
@Suite struct KeyHitTurnTests {
    @Test func aSnapshotSentWhileUpRestoresTheKeyedSnapshotComesAfterTheRestore() async throws {
        let stack = try SnapshotKeyIntegrationTests.makeStack()
        defer { stack.cleanup() }
        // Migrated, its snapshot taken under its key, then rows deleted: the next start restores the snapshot.
        let first = try await SnapshotKeyIntegrationTests.up(stack)
        _ = try await SnapshotKeyIntegrationTests.count(stack, "DELETE FROM items WHERE id > 10")
        try await SnapshotKeyIntegrationTests.down(stack, postmaster: first)

        let session = try StackSession(
            stack: try stack.load(), options: .init(console: nil), environment: ProcessInfo.processInfo.environment)
        let desk = session.desk
        let (start, holder, queued) = await PoolFillOrderTests.startHeldUp(session, behind: "shop")
        guard queued else {
            let waiters = desk.turns.waiters(for: "shop")
            holder.release.signal()
            let started: String
            do { try await start.value; started = "done" } catch { started = "\(error)" }
            let log = (try? String(contentsOfFile: stack.paths.logFile(for: "migrate"), encoding: .utf8)) ?? ""
            Issue.record(
                "the restore of the keyed snapshot did not wait for the database's turn; waiters: \(waiters); start: \(started); the task's log: \(log)"
            )
            _ = await session.stop()
            return
        }

        let port = try #require(session.outputs["db"]?["port"])
        let conninfo =
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(port) user=postgres connect_timeout=5 dbname=shop"
        let waiting = try PostgresConnection(conninfo)
        #expect(try waiting.value("SELECT count(*) FROM items") == "10", "restored while the test held the turn")
        waiting.close()
        // A snapshot sent now queues behind the restore.
        let retake = Task { await desk.perform(.snapshot, DatabaseRequest(service: "db")) }
        let behind = await eventually(within: .patience) { desk.turns.waiters(for: "shop") == 2 }
        #expect(behind, "the snapshot did not queue behind the restore")
        let postmaster = try await PoolFillOrderTests.finishStart(start, session: session, holder: holder)
        let taken = await retake.value
        #expect(taken.ok, "\(taken.error ?? "")")
        #expect(SnapshotKeyIntegrationTests.runs(stack) == 1, "the migration ran again: its snapshot was not current")

        // The restore came first: the database has the snapshot's rows, and so has the snapshot taken after it.
        let shop = try PostgresConnection(conninfo)
        #expect(try shop.value("SELECT count(*) FROM items") == "500")
        try shop.query("DELETE FROM items; CREATE TABLE scratch (x int)")
        shop.close()
        let restored = await desk.perform(.restore, DatabaseRequest(service: "db"))
        #expect(restored.ok, "\(restored.error ?? "")")
        let after = try PostgresConnection(conninfo)
        #expect(
            try after.value("SELECT count(*) FROM items") == "500",
            "the snapshot has the rows deleted before the restore")
        after.close()

        let leftovers = await session.stop()
        #expect(leftovers.isEmpty, "processes had to be killed after the orderly stop: \(leftovers)")
        #expect(await eventually { !ProcessTable.isAlive(postmaster) }, "postgres \(postmaster) is still there")
    }
}
