import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A stop that never lies: `down` says "no process left" only when every process of
/// the stack is gone, and Postgres is stopped the way pg_ctl does it (fast, then
/// immediate shutdown, SIGKILL last), so the next `up` always finds its data free.
@Suite struct StopLadderTests {
    static let yaml = """
        services:
          db:
            engine: postgres
            port: auto
            databases: [shop]
            user: shop
            password: s3cret
            stop_timeout: 2s
        """

    static func connect(_ stack: TestStack) async throws -> PostgresConnection {
        let port = try #require(try await stack.env()["DB_PORT"])
        return try PostgresConnection(
            "host=127.0.0.1 port=\(port) user=shop password=s3cret dbname=shop connect_timeout=5")
    }

    /// The postmaster and every process below it, as instances (a reused pid is not theirs).
    static func postgresTree(_ stack: TestStack) async throws -> (postmaster: Int32, all: [ProcessInstance]) {
        let report = try await stack.status()
        let postmaster = try #require(report.services.first { $0.name == "db" }?.pid)
        let below = ProcessTable.descendants(of: postmaster)
        #expect(!below.isEmpty, "a running postmaster has children")
        return (postmaster, [try #require(ProcessTable.instance(postmaster))] + below.map(ProcessInstance.init))
    }

    static func checkpointer(below postmaster: Int32) throws -> ProcessInstance {
        let entry = try #require(
            ProcessTable.descendants(of: postmaster).first {
                (ProcessTable.commandLine($0.pid) ?? "").contains("checkpointer")
            }, "no checkpointer below postmaster \(postmaster)")
        return ProcessInstance(entry)
    }

    /// A shutdown checkpoint that never ends (the checkpointer stopped as `down` begins,
    /// as a disk that does not answer would hold it): `down` escalates to immediate
    /// shutdown, says so, and returns only once every process is gone; the next `up -d`
    /// starts on the same data with every committed row. Twenty rounds, in four lanes.
    @Test func aHangingShutdownEscalatesAndDownReturnsOnlyWhenEverythingIsGone() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<4 {
                group.addTask { try await Self.hangingShutdownRounds(5, lane: lane) }
            }
            try await group.waitForAll()
        }
    }

    static func hangingShutdownRounds(_ rounds: Int, lane: Int) async throws {
        let stack = try TestStack(yaml, name: "hangingshutdown\(lane)")
        defer { stack.cleanup() }
        for round in 1...rounds {
            let up = try await stack.muster("up", "-d")
            try #require(up.status == 0, "lane \(lane) round \(round): up -d failed: \(up.output)")
            let connection = try await connect(stack)
            try connection.query("CREATE TABLE IF NOT EXISTS rounds (n int PRIMARY KEY)")
            try connection.query("INSERT INTO rounds VALUES (\(round))")
            #expect(
                try connection.value("SELECT count(*) FROM rounds") == String(round),
                "lane \(lane) round \(round): rows lost")
            let tree = try await postgresTree(stack)
            let checkpointer = try checkpointer(below: tree.postmaster)
            #expect(ProcessTable.signal(checkpointer, SIGSTOP))
            let down = try await stack.muster("down")
            let left = tree.all.filter { !ProcessTable.isGone($0) }
            #expect(
                left.isEmpty,
                "lane \(lane) round \(round): down returned while \(left.map(ProcessTable.describe)) remained: \(down.output)"
            )
            #expect(down.status == 0, "lane \(lane) round \(round): \(down.output)")
            #expect(
                down.output.contains("sent SIGQUIT (immediate shutdown)"), "lane \(lane) round \(round): \(down.output)"
            )
            #expect(
                !down.output.contains("sent SIGKILL"),
                "immediate shutdown is enough for a stopped checkpointer: \(down.output)")
            if down.output.contains("no process left") {
                #expect(left.isEmpty)
            }
        }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "lane \(lane): last up -d failed: \(up.output)")
        #expect(
            try await connect(stack).value("SELECT count(*) FROM rounds") == String(rounds),
            "committed rows survive immediate shutdowns")
        let tree = try await postgresTree(stack)
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")
        #expect(tree.all.allSatisfy(ProcessTable.isGone))
    }

    /// The sequence from the report: snapshot, restore, four clones, down, up, ten times.
    /// Every `up -d` must find the cluster free.
    @Test func snapshotRestoreCloneDownUpTenTimes() async throws {
        // The snapshot tests' stack: a migration task and a snapshot after it.
        let stack = try TestStack(DatabaseSnapshotTests.yaml)
        defer { stack.cleanup() }
        for round in 1...10 {
            let up = try await stack.muster("up", "-d")
            try #require(up.status == 0, "round \(round): up -d failed: \(up.output)")
            for step in [
                ["db", "snapshot", "db", "--name", "r"], ["db", "restore", "db", "--name", "r"],
                ["db", "clone", "db", "--count", "4", "--name", "r"],
            ] {
                let result = try await CLIResult.run(step, in: stack.directory)
                #expect(result.status == 0, "round \(round): \(step.joined(separator: " ")): \(result.output)")
            }
            #expect(try await Self.connect(stack).value("SELECT count(*) FROM items") == "500")
            let tree = try await Self.postgresTree(stack)
            let down = try await stack.muster("down")
            #expect(down.status == 0, "round \(round): \(down.output)")
            #expect(
                tree.all.allSatisfy(ProcessTable.isGone),
                "round \(round): \(tree.all.filter { !ProcessTable.isGone($0) })")
        }
    }

    /// A supervisor SIGKILLed while the checkpointer hangs: the postmaster dies with it,
    /// its stopped checkpointer keeps the shared memory. The next `up -d` waits for
    /// that process (it exits once it runs again) instead of failing on "pre-existing
    /// shared memory block is still in use", and says what it waited for.
    @Test func upWaitsForThePreviousPostmastersProcessesToGo() async throws {
        let stack = try TestStack(Self.yaml)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        try await Self.connect(stack).query("CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
        let report = try await stack.status()
        let tree = try await Self.postgresTree(stack)
        let checkpointer = try Self.checkpointer(below: tree.postmaster)
        #expect(ProcessTable.signal(checkpointer, SIGSTOP))
        kill(report.supervisorPid, SIGKILL)
        let postmasterGone = await eventually(within: .seconds(10)) { ProcessTable.isGone(tree.all[0]) }
        try #require(postmasterGone, "the guardian ends the postmaster with its supervisor")
        #expect(!ProcessTable.isGone(checkpointer), "the stopped checkpointer outlives its postmaster")
        // Let it go once the next up waits for it (its log says so): it then sees its
        // postmaster gone and exits.
        let logPath = stack.paths.logFile(for: "db")
        let resume = Task {
            _ = await eventually(within: .seconds(60)) {
                ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains(
                    "waiting for the previous Postgres to let go")
            }
            ProcessTable.signal(checkpointer, SIGCONT)
        }
        let again = try await stack.muster("up", "-d")
        _ = await resume.value
        #expect(
            again.status == 0, "up -d failed while the previous postmaster's processes were exiting: \(again.output)")
        let log = (try? String(contentsOfFile: stack.paths.logFile(for: "db"), encoding: .utf8)) ?? ""
        #expect(log.contains("waiting for the previous Postgres to let go"), "\(log.suffix(2000))")
        #expect(!log.contains("pre-existing shared memory block"), "\(log.suffix(2000))")
        #expect(try await Self.connect(stack).value("SELECT count(*) FROM kept") == "1")
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")
    }

    /// A service whose child leaves the process group (its own session, as Postgres's
    /// children do) and ignores SIGTERM: `stop` and `down` kill it too and wait until
    /// it is gone; nothing of it is left when they say stopped.
    @Test func aChildInItsOwnSessionIsStoppedWithItsService() async throws {
        let stack = try TestStack(
            """
            services:
              tree:
                command: ["sh", "-c", "setsid sh -c 'trap \\"\\" TERM; echo $$$$ > escaped.pid; while :; do sleep 1; done' & wait"]
                ready: { exec: "test -s escaped.pid" }
                stop_timeout: 1s
            """)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        let escaped = try #require(readPids(stack.directory + "/escaped.pid").first)
        let instance = try #require(ProcessTable.instance(escaped))
        let leader = try #require(try await stack.status().services.first?.pid)
        #expect(
            ProcessTable.entry(escaped)?.session != ProcessTable.entry(leader)?.session,
            "the child left the service's session")
        let stop = try await stack.muster("stop", "tree")
        #expect(stop.status == 0, "\(stop.output)")
        #expect(ProcessTable.isGone(instance), "stop returned while \(ProcessTable.describe(instance)) was left")
        let down = try await stack.muster("down")
        #expect(down.status == 0 && down.output.contains("no process left"), "\(down.output)")
    }
}
