import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `up -d`, the control API and `down`, through the real muster binary.
@Suite(.serialized) struct DetachedTests {
    /// A small stack without engines' start-up cost where the engines don't matter.
    static let small = """
        services:
          cache:
            engine: redis
            port: auto
          web:
            command: ["python3", "-m", "http.server", "--bind", "127.0.0.1", "${web.port}"]
            port: auto
            depends_on: [cache]
            ready: { http: "http://127.0.0.1:${web.port}/" }
          worker:
            command: "echo started; while true; do echo tick; sleep 0.05; done"
            depends_on: { web: ready }
            ready: { log: started }
          once:
            command: "echo migrated"
            depends_on: { cache: ready }
        """

    func status(_ stack: TestStack) async throws -> StatusReport { try await stack.status() }

    /// Every process group the stack used is empty and every port refuses connections.
    func expectNothingLeft(groups: [Int32], ports: [Int], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        for group in groups {
            #expect(
                ProcessTable.members(ofGroup: group).isEmpty, "group \(group) still has processes",
                sourceLocation: sourceLocation)
        }
        for port in ports {
            #expect(
                (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(300))) == nil,
                "port \(port) still accepts connections", sourceLocation: sourceLocation)
        }
    }

    @Test func defaultStackDetachedLifecycle() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestStack.python), "run scripts/install-deps first")
        let stack = try TestStack.defaultStack()
        defer { stack.cleanup() }

        // up -d returns only when every service is ready.
        let up = try await stack.muster("up", "-d")
        #expect(up.status == 0, "up -d failed: \(up.output)")
        var report = try await status(stack)
        #expect(report.services.count == 6)
        #expect(report.running)
        let states = report.services.map { "\($0.name)=\($0.state)" }
        #expect(report.services.allSatisfy { $0.ready }, "not all ready: \(states)")
        #expect(report.services.first { $0.name == "migrate" }?.state == "completed")

        // A second up -d starts nothing new and exits 0.
        let again = try await stack.muster("up", "-d")
        #expect(again.status == 0, "second up -d: \(again.output)")
        let second = try await status(stack)
        #expect(second.supervisorPid == report.supervisorPid)
        #expect(second.services.map(\.pid) == report.services.map(\.pid))

        // restart notifier: a new pid, ready again.
        let oldNotifier = try #require(report.services.first { $0.name == "notifier" }?.pid)
        let restart = try await stack.muster("restart", "notifier")
        #expect(restart.status == 0, "restart failed: \(restart.output)")
        report = try await status(stack)
        let notifier = try #require(report.services.first { $0.name == "notifier" })
        #expect(notifier.pid != nil && notifier.pid != oldNotifier)
        #expect(notifier.state == "ready" && notifier.restarts == 1)

        // logs --tail 5 api prints 5 lines (of at least 5 requests' access log).
        let apiPort = try #require(report.services.first { $0.name == "api" }?.ports.first)
        for _ in 0..<5 {
            #expect(await HTTPProbe(url: "http://127.0.0.1:\(apiPort)/healthz", timeout: .seconds(2)).check().passed)
        }
        let logs = try await stack.muster("logs", "--tail", "5", "api")
        #expect(logs.status == 0)
        #expect(
            logs.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().count == 5,
            "got: \(logs.output)")

        // env works against the detached stack.
        let variables = try await stack.env()
        let dbPort = try #require(variables["DB_PORT"])
        let conninfo = "host=127.0.0.1 port=\(dbPort) user=app password=app dbname=app"
        try PostgresConnection(conninfo).query("INSERT INTO users(name) VALUES ('survives a SIGKILLed supervisor')")

        // SIGKILL the supervisor: soon nothing of the stack is alive (the bound is for a loaded machine).
        let groups = report.groups
        kill(report.supervisorPid, SIGKILL)
        let gone = await eventually(within: .seconds(10)) {
            groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty }
        }
        #expect(
            gone, "services outlived the supervisor: \(groups.filter { !ProcessTable.members(ofGroup: $0).isEmpty })")

        // The next up -d recovers the stale state; the data is intact.
        let recovered = try await stack.muster("up", "-d")
        #expect(recovered.status == 0, "up -d after SIGKILL failed: \(recovered.output)")
        let env2 = try await stack.env()
        let conninfo2 = "host=127.0.0.1 port=\(env2["DB_PORT"] ?? "0") user=app password=app dbname=app"
        #expect(
            try PostgresConnection(conninfo2).value(
                "SELECT count(*) FROM users WHERE name = 'survives a SIGKILLed supervisor'") == "1")

        // down twice: 0 both times; nothing left, no port listening.
        report = try await status(stack)
        let ports = report.services.flatMap(\.ports)
        let down = try await stack.muster("down")
        #expect(down.status == 0, "down failed: \(down.output)")
        let down2 = try await stack.muster("down")
        #expect(down2.status == 0, "second down failed: \(down2.output)")
        expectNothingLeft(groups: report.groups, ports: ports)
        #expect(!FileManager.default.fileExists(atPath: stack.paths.runtimeDir))
        #expect(FileManager.default.fileExists(atPath: stack.paths.dataDir + "/db/PG_VERSION"), "down must keep data")
    }

    @Test func twoProjectsSideBySide() async throws {
        let first = try TestStack(Self.small, name: "first")
        let second = try TestStack(Self.small, name: "second")
        defer { first.cleanup(); second.cleanup() }
        async let a = first.muster("up", "-d")
        async let b = second.muster("up", "-d")
        let (upA, upB) = try await (a, b)
        #expect(upA.status == 0, "\(upA.output)")
        #expect(upB.status == 0, "\(upB.output)")
        let reportA = try await status(first)
        let reportB = try await status(second)
        let portsA = Set(reportA.services.flatMap(\.ports))
        let portsB = Set(reportB.services.flatMap(\.ports))
        #expect(portsA.count == 2 && portsB.count == 2)
        #expect(portsA.isDisjoint(with: portsB), "projects share a port: \(portsA) \(portsB)")
        #expect(first.paths.runtimeDir != second.paths.runtimeDir)

        #expect(try await first.muster("down").status == 0)
        expectNothingLeft(groups: reportA.groups, ports: Array(portsA))
        let after = try await status(second)
        #expect(after.services.map(\.pid) == reportB.services.map(\.pid))
        #expect(after.services.filter { $0.name != "once" }.allSatisfy { $0.state == "ready" })
        #expect(try await second.muster("down").status == 0)
        expectNothingLeft(groups: reportB.groups, ports: Array(portsB))
    }

    @Test func failingStartReportsAndLeavesNothing() async throws {
        let stack = try TestStack(
            """
            services:
              cache:
                engine: redis
                port: auto
              auth:
                command: "echo 'Traceback (most recent call last):'; echo \\"ModuleNotFoundError: No module named 'jwt'\\"; exit 1"
                depends_on: [cache]
                ready: { tcp: "127.0.0.1:1" }
            """)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d", "--timeout", "30s")
        #expect(up.status == 1)
        #expect(up.output.contains("service auth failed"), "\(up.output)")
        #expect(up.output.contains("ModuleNotFoundError"), "the log tail is missing: \(up.output)")
        // Nothing is left: no supervisor answers, no redis runs.
        #expect(ControlClient.connect(stack.paths) == nil)
        let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
        expectNothingLeft(groups: groups, ports: [])
        #expect(try await stack.muster("ps").output.contains("not running"))
        let idle = try await stack.muster("ps", "--json")
        #expect(idle.status == 0 && idle.output.contains("\"running\":false"), "\(idle.output)")

        // --keep-on-failure leaves what started running.
        let kept = try await stack.muster("up", "-d", "--keep-on-failure", "--timeout", "30s")
        #expect(kept.status == 1)
        let report = try await status(stack)
        #expect(report.services.first { $0.name == "cache" }?.state == "ready")
        #expect(try await stack.muster("down").status == 0)
        expectNothingLeft(groups: report.groups, ports: report.services.flatMap(\.ports))
    }

    @Test func restartReturnsOnlyOnceTheNewIncarnationIsReady() async throws {
        // Regression: restart once returned while the service was still stopping,
        // because the supervisor judged the outcome from the state before the restart.
        // It takes its time to stop, as servers do.
        let stack = try TestStack(
            """
            services:
              slow:
                command: "trap 'sleep 0.3; exit 0' TERM; echo ready; while :; do sleep 0.05; done"
                ready: { log: ready }
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        var previous = try #require(try await status(stack).services.first?.pid)
        for round in 1...3 {
            let restart = try await stack.muster("restart", "slow")
            #expect(restart.status == 0, "\(restart.output)")
            // The answer itself says ready, with a new pid.
            #expect(
                restart.output.contains(", ready") && !restart.output.contains("pid \(previous) → pid \(previous)"),
                "round \(round): \(restart.output)")
            let slow = try #require(try await status(stack).services.first)
            #expect(
                slow.state == "ready" && slow.pid != previous && slow.restarts == round,
                "round \(round): \(slow.state), pid \(slow.pid ?? 0) (was \(previous)), restarts \(slow.restarts)")
            previous = slow.pid ?? previous
        }
        let report = try await status(stack)
        #expect(try await stack.muster("down").status == 0)
        expectNothingLeft(groups: report.groups, ports: [])
    }

    @Test func redisIsAskedToShutDownUnlessAStopSignalIsChosen() async throws {
        // SIGTERM makes Redis wait for its next timer tick; SHUTDOWN acts at once.
        let stack = try TestStack(
            """
            services:
              asked:
                engine: redis
                port: auto
              signalled:
                engine: redis
                port: auto
                stop_signal: SIGINT
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let report = try await status(stack)
        #expect(try await stack.muster("down").status == 0)
        expectNothingLeft(groups: report.groups, ports: report.services.flatMap(\.ports))
        let asked = try String(contentsOfFile: stack.paths.logFile(for: "asked"), encoding: .utf8)
        let signalled = try String(contentsOfFile: stack.paths.logFile(for: "signalled"), encoding: .utf8)
        #expect(asked.contains("User requested shutdown") && !asked.contains("Received SIG"), "\(asked)")
        #expect(signalled.contains("Received SIGINT"), "\(signalled)")
    }

    @Test func serviceCommandsRespectDependencies() async throws {
        let stack = try TestStack(Self.small)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let before = try await status(stack)
        func pid(_ report: StatusReport, _ name: String) -> Int32? { report.services.first { $0.name == name }?.pid }

        // restart web: worker (depends on web) restarts after it; cache does not.
        let restart = try await stack.muster("restart", "web")
        #expect(restart.status == 0, "\(restart.output)")
        var now = try await status(stack)
        #expect(pid(now, "web") != pid(before, "web"))
        #expect(pid(now, "worker") != pid(before, "worker"))
        #expect(pid(now, "cache") == pid(before, "cache"))
        #expect(now.services.filter { $0.name != "once" }.allSatisfy { $0.state == "ready" })

        // --no-deps leaves worker alone.
        let workerPid = pid(now, "worker")
        #expect(try await stack.muster("restart", "--no-deps", "web").status == 0)
        now = try await status(stack)
        #expect(pid(now, "worker") == workerPid)

        // stop web stops worker first; start worker brings web back.
        #expect(try await stack.muster("stop", "web").status == 0)
        now = try await status(stack)
        #expect(now.services.first { $0.name == "web" }?.state == "stopped")
        #expect(now.services.first { $0.name == "worker" }?.state == "stopped")
        #expect(now.services.first { $0.name == "cache" }?.state == "ready")
        #expect(try await stack.muster("start", "worker").status == 0)
        now = try await status(stack)
        #expect(now.services.filter { $0.name != "once" }.allSatisfy { $0.state == "ready" })

        // Bad usage: a task, an unknown name.
        let task = try await stack.muster("restart", "once")
        #expect(task.status == 2 && task.output.contains("task"), "\(task.output)")
        let unknown = try await stack.muster("restart", "wrker")
        #expect(unknown.status == 2 && unknown.output.contains("did you mean"), "\(unknown.output)")

        // The control API answers curl-style requests on the socket.
        let client = try #require(ControlClient.connect(stack.paths))
        let env = try client.request("GET", "/v1/env")
        #expect(env.status == 200 && String(decoding: env.body, as: UTF8.self).contains("CACHE_URL"))
        var mode = stat()
        #expect(stat(stack.paths.controlSocket, &mode) == 0 && mode.st_mode & 0o077 == 0)
        #expect(stat(stack.paths.runtimeDir, &mode) == 0 && mode.st_mode & 0o777 == 0o700)

        #expect(try await stack.muster("down").status == 0)
        expectNothingLeft(groups: now.groups, ports: now.services.flatMap(\.ports))
        let logs = try await stack.muster("logs", "--tail", "1", "once")
        #expect(logs.status == 0 && logs.output.contains("migrated"), "stored logs after down: \(logs.output)")
    }
}
