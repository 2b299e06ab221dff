import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `muster run` names the tests a real restart overlapped: CMD SIGKILLs a
/// `restart: on-failure` service mid-run and writes a Playwright JSON report (and
/// one line of muster's tests file) built around the real kill time.
@Suite(.serialized) struct RunAttributionTests {
    static let stackText = """
        services:
          notifier:
            command: "echo $$$$ > notifier.pid; echo listening; while true; do sleep 0.1; done"
            ready: { log: listening }
            restart: on-failure
          quiet:
            command: "echo up; while true; do sleep 0.1; done"
            ready: { log: up }
        """

    /// Records four tests around a kill of notifier: "before" and "after" fail on
    /// their own, "during" fails while notifier restarts, "spanning" passes across it.
    static let script =
        RunScripts.preamble + #"""
            def result(start, end, status, worker):
                return {"workerIndex": worker, "status": status, "duration": round((end - start) * 1000, 3),
                        "retry": 0, "startTime": iso(start), "errors": []}

            def spec(title, *results):
                return {"title": title, "file": "orders.spec.ts", "tests": [{"projectName": "chromium", "results": list(results)}]}

            assert os.path.exists(os.environ["MUSTER_CONTROL_SOCKET"]), "no control socket"
            t1 = time.time(); time.sleep(0.3); t2 = time.time()
            seen = readies()
            pid = int(open("notifier.pid").read())
            t3 = time.time()
            os.kill(pid, signal.SIGKILL)
            while readies() <= seen:
                time.sleep(0.05)
            t4 = time.time()
            time.sleep(0.2); t5 = time.time(); time.sleep(0.2); t6 = time.time()

            report = {"config": {"workers": 2}, "suites": [{
                "title": "orders.spec.ts", "file": "orders.spec.ts",
                "specs": [spec("before", result(t1, t2, "failed", 0)), spec("spanning", result(t1, t6, "passed", 1))],
                "suites": [{"title": "notify", "file": "orders.spec.ts", "specs": [
                    spec("during", result(t3, t4, "failed", 0)), spec("after", result(t5, t6, "timedOut", 0))]}]}]}
            with open(sys.argv[1], "w") as out:
                json.dump(report, out)
            line = json.dumps({"id": "tests/test_x.py::test_during", "outcome": "failed", "start": iso(t3), "end": iso(t4),
                               "worker": "main", "source": "pytest"})
            fd = os.open(os.environ["MUSTER_TESTS_FILE"], os.O_WRONLY | os.O_APPEND)
            os.write(fd, (line + "\n").encode())
            os.close(fd)
            sys.exit(1)
            """#

    func report(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// The run started the stack; it must have stopped it and left no process.
    func expectStopped(_ stack: TestStack) {
        #expect(ControlClient.connect(stack.paths) == nil, "run must stop the stack it started")
        let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
        #expect(groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })
    }

    @Test func exactlyTheOverlappingTestsAreAttributed() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        try Self.script.write(toFile: stack.directory + "/e2e.py", atomically: true, encoding: .utf8)
        let run = try await CLIResult.run(
            command: [
                TestStack.binary, "run", "--report", "r.json", "--tests", "pw.json", "--", TestStack.python, "e2e.py",
                "pw.json",
            ],
            in: stack.directory, environment: ["CI": "true"])
        expectStopped(stack)
        #expect(run.status == 1, "CMD's own exit code: \(run.output)")

        let object = try report(stack.directory + "/r.json")
        #expect(object["exit_code"] as? Int == 1)
        let disruptions = try #require(object["disruptions"] as? [[String: Any]])
        let restart = try #require(disruptions.first { $0["service"] as? String == "notifier" }, "\(disruptions)")
        #expect(restart["kind"] as? String == "restarted")
        #expect((restart["reason"] as? String)?.contains("killed by SIGKILL") == true)
        #expect(restart["end"] is String, "notifier came back before CMD ended")
        let seq = try #require(restart["seq"] as? Int)
        #expect(!disruptions.contains { $0["service"] as? String == "quiet" })

        let tests = try #require(object["tests"] as? [[String: Any]])
        var attributed: [String: [Int]] = [:]
        for test in tests { attributed[test["id"] as? String ?? "?"] = test["disruptions"] as? [Int] }
        #expect(
            attributed == [
                "tests/test_x.py::test_during": [seq],
                "orders.spec.ts › before": [],
                "orders.spec.ts › spanning": [seq],
                "orders.spec.ts › notify › during": [seq],
                "orders.spec.ts › notify › after": [],
            ])
        let playwright = tests.filter { $0["source"] as? String == "playwright" }
        #expect(Set(playwright.compactMap { $0["worker"] as? String }) == ["w0", "w1"])
        let services = try #require(object["services"] as? [String: Any])
        let notifier = try #require(services["notifier"] as? [String: Any])
        #expect(
            Set(notifier["tests"] as? [String] ?? []) == [
                "tests/test_x.py::test_during", "orders.spec.ts › spanning", "orders.spec.ts › notify › during",
            ])
        #expect((services["quiet"] as? [String: Any])?["tests"] as? [String] == [])

        // The summary: the restart's failing tests first, then the code's own failures.
        #expect(
            run.output.contains(
                "2 failing tests overlapped a restart of notifier: orders.spec.ts › notify › during, tests/test_x.py::test_during"
            )
                || run.output.contains(
                    "2 failing tests overlapped a restart of notifier: tests/test_x.py::test_during, orders.spec.ts › notify › during"
                ),
            "\(run.output)")
        #expect(
            run.output.contains(
                "2 failing tests overlapped no disruption (the code's own failures): orders.spec.ts › before, orders.spec.ts › notify › after"
            ),
            "\(run.output)")
        #expect(!run.output.contains("spanning"), "a passing test is not listed: \(run.output)")
        // CI annotations name the tests.
        #expect(
            run.output.contains(
                "::warning title=muster: a failing test overlapped a disruption::orders.spec.ts › notify › during failed while notifier restarted"
            ),
            "\(run.output)")
        #expect(run.output.contains("failing tests it overlapped: "), "\(run.output)")
    }

    @Test func anUnreadableReportExitsTwoAfterCMDAndKeepsCMDsCode() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        // CMD writes the broken report itself: it is read only after CMD has run.
        let failing = try await stack.muster(
            "run", "--tests", "bad.json", "--", "sh", "-c", #"printf '{"suites": [' > bad.json; exit 5"#)
        #expect(failing.status == 5, "\(failing.output)")
        #expect(failing.output.contains("error: --tests bad.json: is not valid JSON"), "\(failing.output)")
        let passing = try await stack.muster(
            "run", "--tests", "bad.json", "--tests", "missing.xml", "--", "sh", "-c", "touch ran")
        #expect(passing.status == 2, "\(passing.output)")
        #expect(FileManager.default.fileExists(atPath: stack.directory + "/ran"))
        #expect(passing.output.contains("error: --tests bad.json: is not valid JSON"), "\(passing.output)")
        #expect(passing.output.contains("error: --tests missing.xml: does not exist"), "\(passing.output)")
        expectStopped(stack)
    }

    @Test func helpIsHelpNotACommand() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        let help = try await stack.muster("run", "--help")
        #expect(help.status == 0, "\(help.output)")
        #expect(help.output.contains("MUSTER_TESTS_FILE") && help.output.contains("--tests <FILE>"), "\(help.output)")
        #expect(ControlClient.connect(stack.paths) == nil, "--help starts nothing")
    }

    @Test func disruptionsEndpoint() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let client = try #require(ControlClient.connect(stack.paths))
        let before = EventLog.timestamp(Date())
        let pid = try #require(readPids(stack.directory + "/notifier.pid").first)
        kill(pid, SIGKILL)
        let back = await eventually(within: .seconds(20)) {
            stack.events().filter { $0.service == "notifier" && $0.type.rawValue == "ready" }.count >= 2
        }
        #expect(back)
        let after = EventLog.timestamp(Date().addingTimeInterval(1))

        let all = try client.request("GET", "/v1/disruptions")
        #expect(all.status == 200)
        let found = try ControlJSON.decode(DisruptionsReport.self, from: all.body).disruptions
        #expect(found.map(\.service) == ["notifier"] && found.first?.kind == .restarted, "\(found)")
        #expect(found.first?.end != nil)
        let window = try client.request("GET", "/v1/disruptions?from=\(before)&to=\(before)")
        #expect(try ControlJSON.decode(DisruptionsReport.self, from: window.body).disruptions.isEmpty)
        let later = try client.request("GET", "/v1/disruptions?from=\(after)")
        #expect(try ControlJSON.decode(DisruptionsReport.self, from: later.body).disruptions.isEmpty)
        let around = try client.request("GET", "/v1/disruptions?from=\(before)&to=\(after)")
        #expect(
            try ControlJSON.decode(DisruptionsReport.self, from: around.body).disruptions.map(\.seq) == found.map(\.seq)
        )

        let bad = try client.request("GET", "/v1/disruptions?from=yesterday")
        #expect(bad.status == 400)
        let text = try ControlJSON.decode(OperationResult.self, from: bad.body).error ?? ""
        #expect(text.contains("from=\"yesterday\" is not an RFC 3339 time"), "\(text)")
        let reversed = try client.request("GET", "/v1/disruptions?from=\(after)&to=\(before)")
        #expect(reversed.status == 400)
        #expect(try await stack.muster("down").status == 0)
        expectStopped(stack)
    }

    @Test func postgresConnectionPressure() async throws {
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
                settings: { max_connections: 30 }
            """)
        defer { stack.cleanup() }
        // Holds 25 connections until muster's sampler has looked three times: each look is
        // one query on its own connection, a new query_start there once it has finished.
        let script = """
            import os, sys, time, psycopg2
            held = [psycopg2.connect(os.environ["DB_URL"], application_name="pressure-test") for _ in range(25)]
            held[0].autocommit = True  # each look at pg_stat_activity a fresh one, not the transaction's
            cursor = held[0].cursor()
            looks, deadline = set(), time.time() + 60
            while len(looks) < 3:
                if time.time() > deadline:
                    sys.exit("muster's sampler did not look three times within 60 s")
                cursor.execute("SELECT pid || ' ' || query_start FROM pg_stat_activity WHERE application_name = 'muster-run' AND state = 'idle'")
                looks.update(row[0] for row in cursor.fetchall())
                time.sleep(0.02)
            """
        try script.write(toFile: stack.directory + "/hold.py", atomically: true, encoding: .utf8)
        let run = try await stack.muster("run", "--report", "r.json", "--", TestStack.python, "hold.py")
        #expect(run.status == 0, "\(run.output)")
        expectStopped(stack)
        let object = try report(stack.directory + "/r.json")
        let db = try #require((object["postgres"] as? [String: Any])?["db"] as? [String: Any], "\(object.keys)")
        #expect(db["max_connections"] as? Int == 30)
        let peak = try #require(db["peak"] as? Int)
        #expect(peak >= 26, "25 held plus muster's own: \(db)")
        #expect((db["by_application"] as? [String: Int])?["pressure-test"] == 25, "\(db)")
        #expect(((db["samples"] as? [[String: Any]]) ?? []).count >= 2)
        #expect(run.output.contains("db: connections peaked at \(peak) of max_connections 30"), "\(run.output)")
        #expect(run.output.contains("held by pressure-test (25)"), "\(run.output)")
    }
}
