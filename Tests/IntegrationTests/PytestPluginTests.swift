import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The pytest plugin (integrations/pytest-muster) under the real `muster run`: a
/// 20-test suite where one test SIGKILLs a `restart: on-failure` service and waits
/// until it is back. Exactly the tests that overlapped the restart are named, in
/// pytest's own output and in the run report; the plugin's own unit tests run here too.
@Suite(.serialized) struct PytestPluginTests {
    static let stackText = """
        services:
          ticker:
            command: "echo ticking; exec sleep 1000"
            ready: { log: ticking }
            restart: on-failure
        """

    @Test func attributesTheRestartSequentiallyAndUnderXdist() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)

        let sequential = try await runSuite(in: stack, name: "seq", pytestArguments: [])
        // Sequentially, only the killing test itself overlaps the restart.
        #expect(sequential.overlapping == ["test_kill_ticker"], "\(sequential.output)")

        let parallel = try await runSuite(in: stack, name: "par", pytestArguments: ["-n", "4", "--dist", "loadfile"])
        // Under -n 4 the two sleepers ran in other workers across the restart.
        #expect(
            parallel.overlapping.isSuperset(of: ["test_kill_ticker", "test_sleeper_a", "test_sleeper_b"]),
            "\(parallel.output)")
        #expect(Set(parallel.workers.values).count == 4, "\(parallel.workers)")

        #expect(try await stack.muster("down").status == 0)
        let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
        #expect(groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })
        #expect(ControlClient.connect(stack.paths) == nil)
    }

    /// The plugin's pytester unit tests (JSON lines, outcomes, inactive without
    /// MUSTER_TESTS_FILE, strict mode, xdist), run by the venv's pytest.
    @Test func pluginUnitTests() async throws {
        let directory = TestStack.repoRoot + "/integrations/pytest-muster"
        let result = try await CLIResult.run(
            command: [TestStack.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            in: directory,
            environment: ["MUSTER_TESTS_FILE": nil, "MUSTER_CONTROL_SOCKET": nil, "PYTEST_ADDOPTS": nil])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(" passed"), "\(result.output)")
    }

    struct SuiteRun {
        var output: String
        /// Test names (the function names) the run attributed to the restart.
        var overlapping: Set<String>
        var workers: [String: String]
    }

    /// Writes the suite to a fresh folder, runs it under `muster run` with the plugin
    /// in --muster-strict mode, and checks pytest's output and the report against the
    /// overlap computed here from the recorded test windows and the event log.
    func runSuite(
        in stack: TestStack, name: String, pytestArguments: [String],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws -> SuiteRun {
        let suite = stack.directory + "/suite-" + name
        try PytestSuite.write(to: suite)
        let report = stack.directory + "/report-\(name).json"
        let run = try await CLIResult.run(
            [
                "run", "--report", report, "--", TestStack.python, "-m", "pytest", "-p", "no:cacheprovider",
                "--muster-strict", "-rN",
            ] + pytestArguments + [suite], in: stack.directory)
        let output = run.output
        // 20 tests: the killing test errors (strict: it passed across a restart), the
        // two own bugs fail, and under -n 4 the sleepers fail too.
        try #require(run.status == 1, "\(output)", sourceLocation: sourceLocation)

        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any],
            sourceLocation: sourceLocation)
        let tests = try #require(
            json["tests"] as? [[String: Any]], "no tests in \(json.keys.sorted())", sourceLocation: sourceLocation)
        #expect(tests.count == 20, "\(tests)", sourceLocation: sourceLocation)
        let windows = tests.compactMap(TestWindow.init)
        #expect(windows.count == 20, sourceLocation: sourceLocation)

        // The truth, from the event log: the ticker's disruptions by the one definition.
        let outages = Outage.all(of: "ticker", in: stack.events())
        let expected = Set(windows.filter { window in outages.contains { $0.overlaps(window) } }.map(\.name))
        #expect(!expected.isEmpty, sourceLocation: sourceLocation)
        // Some tests ran wholly before and some wholly after this run's outage, and are not named.
        let mine = outages.filter { outage in windows.contains { outage.overlaps($0) } }
        #expect(mine.count == 1, "\(mine)", sourceLocation: sourceLocation)
        let before = windows.filter { w in mine.allSatisfy { w.end < $0.start } }
        let after = windows.filter { w in mine.allSatisfy { o in o.end.map { w.start > $0 } ?? false } }
        #expect(!before.isEmpty && !after.isEmpty, "\(windows) \(outages)", sourceLocation: sourceLocation)

        // The report: exactly those tests carry the restart's seq.
        let seqs = Set(outages.map(\.seq))
        let reported = Set(
            tests.filter { !(($0["disruptions"] as? [Int]) ?? []).isEmpty }.compactMap { TestWindow($0)?.name })
        #expect(reported == expected, "report \(reported) vs events \(expected)", sourceLocation: sourceLocation)
        for test in tests {
            for seq in (test["disruptions"] as? [Int]) ?? [] {
                #expect(seqs.contains(seq), sourceLocation: sourceLocation)
            }
        }
        let ticker = (json["services"] as? [String: Any])?["ticker"] as? [String: Any]
        let tickerTests = Set(
            ((ticker?["tests"] as? [String]) ?? []).map { String($0.split(separator: ":").last ?? "") })
        #expect(tickerTests == expected, "services.ticker.tests \(tickerTests)", sourceLocation: sourceLocation)

        // pytest's own output: a muster section naming the ticker on exactly those tests.
        let blocks = PytestOutput.failureBlocks(output)
        let named = Set(blocks.filter { $0.value.contains("- muster -") }.map { PytestOutput.testName($0.key) })
        #expect(
            named == expected, "pytest output \(named) vs events \(expected)\n\(output)", sourceLocation: sourceLocation
        )
        for (headline, text) in blocks where text.contains("- muster -") {
            #expect(text.contains("ticker restarted at "), "\(headline): \(text)", sourceLocation: sourceLocation)
            #expect(text.contains("killed by SIGKILL"), "\(headline): \(text)", sourceLocation: sourceLocation)
        }
        #expect(blocks.keys.contains { $0.hasSuffix("test_own_bug_before") }, sourceLocation: sourceLocation)
        #expect(
            !named.contains("test_own_bug_before") && !named.contains("test_own_bug_after"),
            sourceLocation: sourceLocation)
        let failing = blocks.keys.map(PytestOutput.testName)
        #expect(
            output.contains(
                "muster: \(expected.count) of \(Set(failing).count) failing tests overlapped a disruption of ticker"),
            "\(output)", sourceLocation: sourceLocation)
        return SuiteRun(
            output: output, overlapping: expected,
            workers: Dictionary(windows.map { ($0.name, $0.worker) }, uniquingKeysWith: { a, _ in a }))
    }
}

/// One test's line of the report (`tests[]`).
struct TestWindow: CustomStringConvertible {
    var name: String
    var start: String
    var end: String
    var worker: String

    init?(_ entry: [String: Any]) {
        guard let id = entry["id"] as? String, let start = entry["start"] as? String,
            let end = entry["end"] as? String
        else { return nil }
        name = String(id.split(separator: ":").last ?? "")
        self.start = start
        self.end = end
        worker = entry["worker"] as? String ?? "?"
    }

    var description: String { "\(name)[\(worker)] \(start)..\(end)" }
}

/// A disruption of one service, computed here from events.jsonl by ATTRIBUTION.md's
/// definition (begins at exited/restarted/failed/stopping/unavailable, ends at the
/// next ready/available), to check muster's and the plugin's answers against.
/// Times are RFC 3339 UTC with microseconds, so they compare as strings.
struct Outage: CustomStringConvertible {
    var seq: Int
    var start: String
    var end: String?

    func overlaps(_ window: TestWindow) -> Bool {
        start <= window.end && (end.map { $0 >= window.start } ?? true)
    }

    static func all(of service: String, in events: [ServiceEvent]) -> [Outage] {
        var result: [Outage] = []
        var open: Outage?
        for event in events where event.service == service {
            let (type, time) = (event.type.rawValue, event.time)
            if ["exited", "restarted", "failed", "stopping", "unavailable"].contains(type), open == nil {
                open = Outage(seq: event.seq, start: time, end: nil)
            } else if ["ready", "available"].contains(type), var current = open {
                current.end = time
                result.append(current)
                open = nil
            }
        }
        if let open { result.append(open) }
        return result
    }

    var description: String { "outage \(seq) \(start)..\(end ?? "open")" }
}

enum PytestOutput {
    /// pytest's failures and errors cut into [headline: text].
    static func failureBlocks(_ output: String) -> [String: String] {
        var blocks: [String: String] = [:]
        var current: String?
        for line in output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("___"), line.hasSuffix("___") {
                let headline = line.trimmingCharacters(in: CharacterSet(charactersIn: "_ "))
                current = headline
                blocks[headline] = ""
            } else if line.hasPrefix("===") {
                current = nil
            } else if let name = current {
                blocks[name, default: ""] += line + "\n"
            }
        }
        return blocks
    }

    /// "ERROR at teardown of test_x" or "test_x" -> "test_x".
    static func testName(_ headline: String) -> String {
        String(headline.split(separator: " ").last ?? "")
    }
}

/// The real pytest suite (20 tests in 4 files, so `-n 4 --dist loadfile` puts one
/// file on each worker). test_b_kill.py kills the ticker and waits until muster has
/// restarted it; the sleepers in test_c/test_d hold the ticker's pid across that
/// and fail when it changed. Under xdist the killer waits until the sleepers run
/// and the quick tests of test_a are done, so who overlaps is decided by design.
enum PytestSuite {
    static func write(to folder: String) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: folder + "/markers", withIntermediateDirectories: true)
        let files: [String: String] = [
            "pytest.ini": "[pytest]\n",
            "conftest.py": conftest,
            "test_a_before.py": (1...6).map { "def test_quick_before_\($0)():\n    assert True\n" }.joined(
                separator: "\n")
                + "\n\nfrom conftest import marker\n\n\ndef test_own_bug_before():\n    assert 1 + 1 == 3\n\n\ndef test_zz_before_done():\n    marker('before-done')\n",
            "test_b_kill.py": killFile,
            "test_c_sleeper.py":
                "from conftest import hold_across_the_kill\n\n\ndef test_sleeper_a():\n    hold_across_the_kill('a')\n",
            "test_d_sleeper.py":
                "from conftest import hold_across_the_kill\n\n\ndef test_sleeper_b():\n    hold_across_the_kill('b')\n",
        ]
        for (name, text) in files {
            try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        }
    }

    static let conftest = #"""
        import http.client, json, os, socket, time
        from pathlib import Path

        MARKERS = Path(__file__).parent / "markers"


        class _Unix(http.client.HTTPConnection):
            def connect(self):
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(os.environ["MUSTER_CONTROL_SOCKET"])


        def ticker():
            conn = _Unix("muster", timeout=5)
            try:
                conn.request("GET", "/v1/status")
                status = json.loads(conn.getresponse().read())
            finally:
                conn.close()
            return next(s for s in status["services"] if s["name"] == "ticker")


        def marker(name, text=""):
            (MARKERS / name).write_text(text)


        def wait_for(check, what, limit=60):
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                value = check()
                if value:
                    return value
                time.sleep(0.02)
            raise AssertionError(f"gave up waiting for {what}")


        def back_after(old_pid):
            """Ready with a new pid, and its `ready` is in the event log (where the
            outage that muster attributes ends)."""
            state = ticker()
            if not state["ready"] or state["pid"] in (None, old_pid):
                return False
            with open(os.environ["MUSTER_EVENTS"]) as handle:
                mine = [json.loads(line) for line in handle if '"ticker"' in line]
            return bool(mine) and mine[-1]["type"] == "ready"


        def hold_across_the_kill(name):
            pid = ticker()["pid"]
            marker("started-" + name)
            killed = int(wait_for(lambda: (MARKERS / "killed").exists() and (MARKERS / "killed").read_text(), "the kill"))
            wait_for(lambda: back_after(killed), "the ticker to come back")
            assert ticker()["pid"] == pid, "the ticker this test talked to was replaced"

        """#

    static let killFile = #"""
        import os, signal, time
        from conftest import MARKERS, back_after, marker, ticker, wait_for


        def test_kill_ticker():
            if os.environ.get("PYTEST_XDIST_WORKER"):
                # Other workers: the sleepers hold the pid, test_a is finished.
                for name in ("started-a", "started-b", "before-done"):
                    wait_for(lambda: (MARKERS / name).exists(), name)
                time.sleep(0.2)
            state = ticker()
            assert state["ready"]
            marker("killed", str(state["pid"]))
            os.kill(state["pid"], signal.SIGKILL)
            wait_for(lambda: back_after(state["pid"]), "the ticker to come back")

        """# + (1...8).map { "\ndef test_quick_after_\($0)():\n    assert True\n" }.joined()
        + "\n\ndef test_own_bug_after():\n    assert 'a' == 'b'\n"
}
