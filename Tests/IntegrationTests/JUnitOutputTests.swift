import Foundation
import Testing
@testable import MusterKit

/// `muster run --junit` and `muster report --junit` on a real run: CMD SIGKILLs a
/// `restart: on-failure` service while one failing test runs, and the JUnit file,
/// read by junitparser (PyPI) and checked against the JUnit schema's shape by
/// Tests/Fixtures/junit/read_junit.py, carries the restart on exactly that test.
@Suite(.serialized) struct JUnitOutputTests {
    /// notifier logs a line with a colour sequence, markup and a control character
    /// before it is ready, so its log tail tests the escaping.
    static let stackText = #"""
        services:
          notifier:
            command: "printf 'boot \\033[31mred\\033[0m & <x> \\001\\n'; echo $$$$ > notifier.pid; echo listening; while true; do sleep 0.1; done"
            ready: { log: listening }
            restart: on-failure
        """#

    /// Five pytest-like records around a kill of notifier; only test_during fails while it restarts.
    static let script =
        RunScripts.preamble + #"""
            t1 = time.time(); time.sleep(0.3); t2 = time.time()
            seen = readies()
            t3 = time.time()
            os.kill(int(open("notifier.pid").read()), signal.SIGKILL)
            while readies() <= seen:
                time.sleep(0.05)
            t4 = time.time()
            time.sleep(0.3); t5 = time.time(); time.sleep(0.2); t6 = time.time()
            records = [
                ("tests/test_orders.py::TestNotify::test_before", "failed", t1, t2),
                ("tests/test_orders.py::TestNotify::test_during", "failed", t3, t4),
                ("tests/test_orders.py::test_spanning", "passed", t1, t6),
                ("tests/test_orders.py::test_skipped", "skipped", t5, t6),
                ('tests/test_orders.py::test_odd[<&"\x01>]', "error", t5, t6),
            ]
            with open(os.environ["MUSTER_TESTS_FILE"], "a") as out:
                for id, outcome, start, end in records:
                    out.write(json.dumps({"id": id, "outcome": outcome, "start": iso(start), "end": iso(end),
                                          "worker": "gw0", "source": "pytest"}) + "\n")
            sys.exit(1)
            """#

    static let reader = TestStack.repoRoot + "/Tests/Fixtures/junit/read_junit.py"

    /// What read_junit.py read, or the problems it found.
    static func read(_ file: String, in directory: String) async throws -> (
        status: Int32, object: [String: Any]?, output: String
    ) {
        let result = try await CLIResult.run(command: [TestStack.python, reader, file], in: directory)
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return (result.status, object, result.output)
    }

    @Test func theRestartIsOnExactlyTheFailingTestItOverlapped() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        try Self.script.write(toFile: stack.directory + "/suite.py", atomically: true, encoding: .utf8)
        let run = try await CLIResult.run(
            command: [
                TestStack.binary, "run", "--report", "r.json", "--junit", "junit.xml", "--", TestStack.python,
                "suite.py",
            ],
            in: stack.directory)
        #expect(run.status == 1, "CMD's own exit code: \(run.output)")
        #expect(ControlClient.connect(stack.paths) == nil, "run stops the stack it started")
        #expect(
            (RuntimeState.readAny(stack.paths)?.groups ?? []).allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })

        let read = try await Self.read("junit.xml", in: stack.directory)
        #expect(read.status == 0, "schema check: \(read.output)")
        let object = try #require(read.object, "\(read.output)")
        let suites = try #require(object["suites"] as? [[String: Any]])
        #expect(suites.count == 1)
        #expect(suites.first?["name"] as? String == "pytest")
        #expect(
            suites.first?["tests"] as? Int == 5 && suites.first?["failures"] as? Int == 2
                && suites.first?["errors"] as? Int == 1 && suites.first?["skipped"] as? Int == 1, "\(suites)")
        let cases = try #require(object["cases"] as? [[String: Any]])
        var byName: [String: [String: Any]] = [:]
        for testcase in cases { byName[testcase["name"] as? String ?? "?"] = testcase }
        #expect(
            Set(byName.keys) == [
                "test_before", "test_during", "test_spanning", "test_skipped", #"test_odd[<&"\x01>]"#,
            ], "\(byName.keys)")

        let during = try #require(byName["test_during"])
        #expect(during["classname"] as? String == "tests.test_orders.TestNotify")
        #expect(during["result"] as? String == "failure")
        let message = during["message"] as? String ?? ""
        #expect(message.contains("notifier restarted") && message.contains("killed by SIGKILL"), "\(message)")
        let err = during["system_err"] as? String ?? ""
        #expect(
            err.contains("service: notifier") && err.contains("kind:    restarted") && err.contains("start:   ")
                && err.contains("end:     "), "\(err)")
        #expect(
            err.contains("log lines of notifier:") && err.contains(#"boot red & <x> \x01"#), "log tail, escaped: \(err)"
        )
        #expect(!err.contains("\u{1B}"), "colour sequences are dropped")

        let before = try #require(byName["test_before"])
        #expect(before["result"] as? String == "failure")
        #expect((before["message"] as? String)?.contains("no service disruption") == true, "\(before)")
        #expect(
            before["system_err"] is NSNull || before["system_err"] == nil,
            "only the overlapped failing test carries a disruption")
        #expect(
            byName["test_spanning"]?["result"] as? String == "passed",
            "a passing test stays plain even across the restart")
        #expect(byName["test_skipped"]?["result"] as? String == "skipped")
        #expect(byName[#"test_odd[<&"\x01>]"#]?["result"] as? String == "error")
        #expect(cases.filter { $0["system_err"] is String }.count == 1)

        // `muster report --junit` writes the same file from the saved report.
        let again = try await stack.muster("report", "--junit", "again.xml", "r.json")
        #expect(again.status == 0, "\(again.output)")
        let first = try String(contentsOfFile: stack.directory + "/junit.xml", encoding: .utf8)
        let second = try String(contentsOfFile: stack.directory + "/again.xml", encoding: .utf8)
        #expect(first == second)
    }

    /// The schema check is a check: counts that disagree with the testcases, a missing
    /// attribute and an unknown element are each named.
    @Test func theSchemaCheckRefusesABrokenFile() async throws {
        let directory = NSTemporaryDirectory() + "muster-tests/junit-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites><testsuite name="x" tests="2" failures="0" errors="0" time="1" timestamp="2026-01-01T00:00:00" hostname="h">
        <testcase name="a" time="0.1"/><bogus/></testsuite></testsuites>
        """.write(toFile: directory + "/broken.xml", atomically: true, encoding: .utf8)
        let read = try await Self.read("broken.xml", in: directory)
        #expect(read.status == 1, "\(read.output)")
        #expect(
            read.output.contains("says tests=2 but holds 1") && read.output.contains("lacks ['classname']")
                && read.output.contains("holds <bogus>"), "\(read.output)")
    }

    @Test func anUnwritableJUnitFileIsRefusedBeforeCMDRuns() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        let run = try await stack.muster("run", "--junit", "no/such/folder/junit.xml", "--", "sh", "-c", "touch ran")
        #expect(
            run.status == 2 && run.output.contains("cannot write the JUnit report to no/such/folder/junit.xml"),
            "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: stack.directory + "/ran"))
        let report = try await stack.muster("report", "r.json")
        #expect(report.status == 2 && report.output.contains("say what to write"), "\(report.output)")
    }
}
