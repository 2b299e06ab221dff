import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The pool fill after a keyed snapshot was found current, against a `muster db
/// snapshot` retaken while one of its copies is in flight. The order is made without
/// timing: the test holds the pool's turn until the hit's step queues behind it and
/// takes a Postgres lock on the snapshot, so the fill's copy waits inside Postgres while
/// the snapshot queues behind the fill (`DatabaseTurns.waiters`).
@Suite struct PoolFillOrderTests {
    static let template = DatabaseSnapshots.snapshotDatabase(of: "shop", name: "default")

    /// A task that holds `key` on `desk` from when it gets it until `release` is signalled.
    struct Holder {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let task: Task<Void, Error>

        init(_ key: String, on desk: DatabaseDesk) {
            let (entered, release) = (self.entered, self.release)
            task = Task {
                try await desk.locked(key) {
                    entered.signal(); release.wait()
                }
            }
        }
    }

    /// Holds `key`'s turn, starts the stack, and waits until the start queues behind
    /// that turn (`queued`) or ends without queueing, the defect these tests look for.
    /// No time decides it: the bound only keeps a hung start from hanging the suite.
    static func startHeldUp(_ session: StackSession, behind key: String) async -> (
        start: Task<Void, Error>, holder: Holder, queued: Bool
    ) {
        let desk = session.desk
        let holder = Holder(key, on: desk)
        await offload { holder.entered.wait() }
        let startEnded = Ended()
        let start = Task {
            defer { startEnded.mark() }
            try await session.start()
        }
        _ = await eventually(within: .patience) { desk.turns.waiters(for: key) == 1 || startEnded.hasEnded }
        return (start, holder, desk.turns.waiters(for: key) == 1)
    }

    /// Lets the test's turn go and waits for the start it held up (stopping the stack
    /// when the start failed); the postmaster's pid.
    static func finishStart(_ start: Task<Void, Error>, session: StackSession, holder: Holder) async throws -> Int32 {
        holder.release.signal()
        try await holder.task.value
        do {
            try await start.value
        } catch {
            _ = await session.stop()
            throw error
        }
        return try #require(await session.supervisor.snapshot().first { $0.name == "db" }?.pid)
    }

    /// A restore takes a ready copy (it waits for none) and brings the new snapshot's 100 rows.
    static func expectARestoreTakesAReadyCopy(_ desk: DatabaseDesk, conninfo: String) async throws {
        let restored = await desk.perform(.restore, DatabaseRequest(service: "db"))
        #expect(restored.ok && restored.waitedMs == nil, "\(restored.error ?? "") waited \(restored.waitedMs ?? 0) ms")
        let after = try PostgresConnection(conninfo + " dbname=shop")
        #expect(try after.value("SELECT count(*) FROM items") == "100")
        after.close()
    }

    @Test func aSnapshotRetakenWhileTheFillCopiesAfterAHitLeavesNoStaleCopy() async throws {
        let stack = try SnapshotKeyIntegrationTests.makeStack()
        let cache = NSTemporaryDirectory() + "muster-tests/cache-\(UInt32.random(in: 0...UInt32.max))"
        defer {
            stack.cleanup()
            try? FileManager.default.removeItem(atPath: cache)
        }
        // A cache entry for the key, then no cluster: the next start is a hit.
        let first = try await SnapshotKeyIntegrationTests.up(stack, ["--cache", cache])
        try await SnapshotKeyIntegrationTests.down(stack, ["--volumes"], postmaster: first)

        var environment = ProcessInfo.processInfo.environment
        environment["MUSTER_CACHE_DIR"] = cache
        let session = try StackSession(stack: try stack.load(), options: .init(console: nil), environment: environment)
        let desk = session.desk
        let pool = DatabaseTurns.poolKey(Self.template)

        // The test holds the pool's turn before the start: the hit's step (the snapshot made
        // current on the turns a retake takes) queues behind it, and `up` waits.
        let (start, holder, queued) = await Self.startHeldUp(session, behind: pool)
        guard queued else {
            Issue.record("the hit's step did not wait for the pool's turn")
            holder.release.signal()
            _ = try? await start.value
            _ = await session.stop()
            return
        }

        let port = try #require(session.outputs["db"]?["port"])
        let conninfo =
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(port) user=postgres connect_timeout=5"
        let admin = try PostgresConnection(conninfo + " dbname=postgres")
        // A lock on the snapshot that its copy waits for: the fill's first copy stays in flight.
        let blocker = try PostgresConnection(conninfo + " dbname=postgres")
        let note = try #require(
            try blocker.value(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = \(blocker.literal(Self.template))"
            ))
        try blocker.query("BEGIN")
        try blocker.query("COMMENT ON DATABASE \(blocker.identifier(Self.template)) IS \(blocker.literal(note))")
        let postmaster = try await Self.finishStart(start, session: session, holder: holder)
        #expect(SnapshotKeyIntegrationTests.runs(stack) == 1, "the migration ran again in the hit")
        let copying = await eventually(within: .patience) {  // its backend runs at nice 19
            (try? admin.value(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE DATABASE%'"
            )) == "1"
        }
        #expect(copying, "the fill's copy is not waiting for the snapshot")

        // Other rows, and the snapshot retaken while that copy is in flight: it waits for it.
        let shop = try PostgresConnection(conninfo + " dbname=shop")
        try shop.query("DELETE FROM items WHERE id > 100")
        shop.close()
        let retake = Task { await desk.perform(.snapshot, DatabaseRequest(service: "db")) }
        let behind = await eventually(within: .patience) { desk.turns.waiters(for: pool) == 1 }
        #expect(behind, "the snapshot did not wait for the fill's copy")
        try blocker.query("COMMIT")
        let taken = await retake.value
        #expect(taken.ok, "\(taken.error ?? "")")

        // Settled: the pool holds its size (its copies are made on the pool's turn, which
        // the snapshot's refill and the fill share), and every ready copy has the new rows.
        let size = SnapshotSpec.defaultSpares
        let pattern = DatabaseSnapshots.sparePrefix(for: "shop", snapshot: Self.template) + "%"
        let sparesQuery =
            "SELECT datname FROM pg_database WHERE datname LIKE \(admin.literal(pattern.replacingOccurrences(of: "_", with: "\\_"))) ORDER BY datname"
        let full = await eventually(within: .patience) {
            (try? admin.query(sparesQuery).count) == size && desk.turns.waiters(for: pool) == 0
        }
        let spares = try admin.query(sparesQuery).compactMap { $0.first ?? nil }
        #expect(full && spares.count == size, "\(spares)")
        for spare in spares {
            let copy = try PostgresConnection(conninfo + " dbname=\(spare)")
            #expect(
                try copy.value("SELECT count(*) FROM items") == "100", "\(spare) is a copy of the replaced snapshot")
            copy.close()
        }
        // A restore takes a ready copy and brings the new snapshot's rows.
        try await PoolFillOrderTests.expectARestoreTakesAReadyCopy(desk, conninfo: conninfo)
        admin.close()
        blocker.close()

        let leftovers = await session.stop()
        #expect(leftovers.isEmpty, "processes had to be killed after the orderly stop: \(leftovers)")
        #expect(await eventually { !ProcessTable.isAlive(postmaster) }, "postgres \(postmaster) is still there")
    }
}

/// A refill takes the pool's turn for one copy at a time: a snapshot retaken while a
/// refill copies waits for that copy only, and the refill's next copy waits for it.
/// Made without timing: Postgres locks hold the refill's copy and then the retake's copy
/// of the database in flight, and the turns' queue is read (`DatabaseTurns.waiters`).
@Suite struct RefillTurnTests {
    @Test func aSnapshotRetakenDuringARefillWaitsForOneCopyOnly() async throws {
        let stack = try TestStack(DatabasePoolTests.yaml)  // spares: 3
        defer { stack.cleanup() }
        let session = try StackSession(
            stack: try stack.load(), options: .init(console: nil), environment: ProcessInfo.processInfo.environment)
        do {
            try await session.start()
        } catch {
            _ = await session.stop()
            throw error
        }
        let postmaster = try #require(await session.supervisor.snapshot().first { $0.name == "db" }?.pid)
        let desk = session.desk
        let template = PoolFillOrderTests.template
        let pool = DatabaseTurns.poolKey(template)
        let port = try #require(session.outputs["db"]?["port"])
        let conninfo =
            "host=\(PostgresEngine.socketDirectory(paths: stack.paths, service: "db")) port=\(port) user=postgres connect_timeout=5"
        let admin = try PostgresConnection(conninfo + " dbname=postgres")
        let waitingCopies =
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE DATABASE%'"

        // A first retake empties the pool; its refill (three copies to make) queues behind a holder.
        let first = PoolFillOrderTests.Holder(pool, on: desk)
        await offload { first.entered.wait() }
        let retake = Task { await desk.perform(.snapshot, DatabaseRequest(service: "db")) }
        #expect(await eventually(within: .patience) { desk.turns.waiters(for: pool) == 1 }, "the retake did not queue")
        let second = PoolFillOrderTests.Holder(pool, on: desk)
        #expect(await eventually(within: .patience) { desk.turns.waiters(for: pool) == 2 }, "the holder did not queue")
        first.release.signal()
        let taken = await retake.value
        #expect(taken.ok, "\(taken.error ?? "")")
        await offload { second.entered.wait() }
        #expect(await eventually(within: .patience) { desk.turns.waiters(for: pool) == 1 }, "the refill did not queue")

        // A lock on the snapshot holds the refill's first copy in flight.
        let snapshotLock = try PostgresConnection(conninfo + " dbname=postgres")
        let note = try #require(
            try snapshotLock.value(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = \(snapshotLock.literal(template))"
            ))
        try snapshotLock.query("BEGIN")
        try snapshotLock.query(
            "COMMENT ON DATABASE \(snapshotLock.identifier(template)) IS \(snapshotLock.literal(note))")
        second.release.signal()
        try await first.task.value
        try await second.task.value
        #expect(await eventually(within: .patience) { (try? admin.value(waitingCopies)) == "1" })

        // Other rows, and a lock on the database that holds the next retake's copy of it.
        let shop = try PostgresConnection(conninfo + " dbname=shop")
        try shop.query("DELETE FROM items WHERE id > 100")
        shop.close()
        let databaseLock = try PostgresConnection(conninfo + " dbname=postgres")
        try databaseLock.query("BEGIN")
        try databaseLock.query("COMMENT ON DATABASE shop IS NULL")
        let again = Task { await desk.perform(.snapshot, DatabaseRequest(service: "db")) }
        #expect(
            await eventually(within: .patience) { desk.turns.waiters(for: pool) == 1 },
            "the retake did not wait for the copy")
        try snapshotLock.query("COMMIT")

        // The retake has the turn after that one copy (its copy of shop waits for the lock);
        // the refill's next copy waits behind it.
        #expect(await eventually(within: .patience) { (try? admin.value(waitingCopies)) == "1" })
        let behind = await eventually(within: .patience) { desk.turns.waiters(for: pool) == 1 }
        #expect(behind, "the refill held the pool's turn for more than one copy")
        try databaseLock.query("COMMIT")
        let retaken = await again.value
        #expect(retaken.ok, "\(retaken.error ?? "")")

        // Settled: the pool holds its size, every ready copy has the new snapshot's rows,
        // and a restore takes one.
        let pattern = DatabaseSnapshots.sparePrefix(for: "shop", snapshot: template) + "%"
        let sparesQuery =
            "SELECT datname FROM pg_database WHERE datname LIKE \(admin.literal(pattern.replacingOccurrences(of: "_", with: "\\_"))) ORDER BY datname"
        let full = await eventually(within: .patience) {
            (try? admin.query(sparesQuery).count) == 3 && desk.turns.waiters(for: pool) == 0
        }
        let spares = try admin.query(sparesQuery).compactMap { $0.first ?? nil }
        #expect(full && spares.count == 3, "\(spares)")
        for spare in spares {
            let copy = try PostgresConnection(conninfo + " dbname=\(spare)")
            #expect(
                try copy.value("SELECT count(*) FROM items") == "100", "\(spare) is a copy of the replaced snapshot")
            copy.close()
        }
        let changed = try PostgresConnection(conninfo + " dbname=shop")
        try changed.query("DELETE FROM items; CREATE TABLE scratch (x int)")
        changed.close()
        try await PoolFillOrderTests.expectARestoreTakesAReadyCopy(desk, conninfo: conninfo)
        admin.close()
        snapshotLock.close()
        databaseLock.close()

        let leftovers = await session.stop()
        #expect(leftovers.isEmpty, "processes had to be killed after the orderly stop: \(leftovers)")
        #expect(await eventually { !ProcessTable.isAlive(postmaster) }, "postgres \(postmaster) is still there")
    }
}
