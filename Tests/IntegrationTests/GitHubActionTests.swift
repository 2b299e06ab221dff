import Foundation
import Testing
@testable import MusterKit

/// The GitHub Action (action.yml) run step by step as GitHub would: each step's
/// `scripts/ci/github-action.sh STEP` in action.yml's order, with the environment a
/// runner sets (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP, CI=true), steps
/// without `if: always()` skipped once one failed, on a real stack whose service is
/// SIGKILLed while the command's failing test runs.
@Suite(.serialized) struct GitHubActionTests {
    static let action = TestStack.repoRoot + "/action.yml"
    static let script = TestStack.repoRoot + "/scripts/ci/github-action.sh"

    static let stackText = """
        services:
          notifier:
            command: "echo $$$$ > notifier.pid; echo listening; while true; do sleep 0.1; done"
            ready: { log: listening }
            restart: on-failure
        """

    /// The command under test: one test fails on its own, one fails while notifier restarts.
    static let suite =
        RunScripts.preamble + #"""
            def record(id, outcome, start, end):
                with open(os.environ["MUSTER_TESTS_FILE"], "a") as out:
                    out.write(json.dumps({"id": id, "outcome": outcome, "start": iso(start), "end": iso(end), "worker": "main",
                                          "source": "pytest"}) + "\n")

            t1 = time.time(); time.sleep(0.2); t2 = time.time()
            record("tests/test_app.py::test_own_bug", "failed", t1, t2)
            seen = readies(); t3 = time.time()
            os.kill(int(open("notifier.pid").read()), signal.SIGKILL)
            while readies() <= seen:
                time.sleep(0.05)
            record("tests/test_app.py::test_notify", "failed", t3, time.time())
            sys.exit(1)
            """#

    /// (step, runs even after a failure) for each step of action.yml that runs the script.
    static func steps() throws -> [(name: String, always: Bool)] {
        let text = try String(contentsOfFile: action, encoding: .utf8)
        var steps: [(String, Bool)] = []
        for block in text.components(separatedBy: "\n    - name:").dropFirst() {
            guard let range = block.range(of: "github-action.sh\" ") else { continue }
            let step = String(block[range.upperBound...].prefix { $0.isLetter })
            steps.append((step, block.contains("if: always()")))
        }
        return steps
    }

    /// Runs the action's steps in `directory`; the exit status of each that ran.
    func runAction(in directory: String, runnerTemp: String, inputs: [String: String]) async throws -> [(
        String, Int32, String
    )] {
        let binFolder = (TestStack.binary as NSString).deletingLastPathComponent
        var environment: [String: String?] = [
            "CI": "true", "GITHUB_ACTIONS": "true", "RUNNER_TEMP": runnerTemp,
            "GITHUB_OUTPUT": runnerTemp + "/output", "GITHUB_STEP_SUMMARY": runnerTemp + "/summary.md",
            "GITHUB_WORKSPACE": directory, "GITHUB_PATH": nil,
            "PATH": binFolder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
            "MUSTER_VERSION": "installed", "MUSTER_ACTION_PATH": TestStack.repoRoot,
        ]
        for (key, value) in inputs { environment[key] = value }
        var ran: [(String, Int32, String)] = []
        var failed = false
        for (step, always) in try Self.steps() {
            if failed && !always { continue }
            let result = try await CLIResult.run(
                command: ["/bin/bash", Self.script, step], in: directory, environment: environment)
            ran.append((step, result.status, result.output))
            if result.status != 0 { failed = true }
        }
        return ran
    }

    func outputs(_ runnerTemp: String) -> [String: String] {
        let text = (try? String(contentsOfFile: runnerTemp + "/output", encoding: .utf8)) ?? ""
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    @Test func theStepsOfAFailingRunReportSummarizeAndStillGoDown() async throws {
        #expect(try Self.steps().map(\.name) == ["install", "up", "run", "summary", "collect", "down", "finish"])
        #expect(try Self.steps().map(\.always) == [false, false, false, true, true, true, true])
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        let runnerTemp = stack.directory + "/runner-temp"
        try FileManager.default.createDirectory(atPath: runnerTemp, withIntermediateDirectories: true)
        try Self.suite.write(toFile: stack.directory + "/suite.py", atomically: true, encoding: .utf8)
        let ran = try await runAction(
            in: stack.directory, runnerTemp: runnerTemp,
            inputs: [
                "MUSTER_STACK_FILE": stack.file, "MUSTER_COMMAND": "\(TestStack.python) suite.py",
                "MUSTER_FAIL_ON_RESTART": "true", "MUSTER_SHARD": "linux-1",
            ])
        let statuses = Dictionary(ran.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        let log = ran.map { "[\($0.0) → \($0.1)]\n\($0.2)" }.joined(separator: "\n")
        #expect(ran.map(\.0) == ["install", "up", "run", "summary", "collect", "down", "finish"], "\(log)")
        #expect(statuses["run"] == 0 && statuses["down"] == 0, "\(log)")
        #expect(statuses["finish"] == 1, "the job fails with the command's exit code: \(log)")

        let values = outputs(runnerTemp)
        #expect(values["exit-code"] == "1" && values["down-exit-code"] == "0", "\(values)")
        // The reports, in the folder upload-artifact uploads.
        let artifacts = try #require(values["artifact-dir"])
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: artifacts)) ?? [])
        #expect(files == ["muster-report.json", "muster-report.html", "muster-junit.xml"], "\(files)")
        let report = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: artifacts + "/muster-report.json"))) as? [String: Any])
        #expect(report["shard"] as? String == "linux-1")
        let junit = try await JUnitOutputTests.read(artifacts + "/muster-junit.xml", in: stack.directory)
        #expect(junit.status == 0, "\(junit.output)")

        // The summary: the failing test that overlapped the restart first, then the code's own.
        let summary = try String(contentsOfFile: runnerTemp + "/summary.md", encoding: .utf8)
        #expect(summary.hasPrefix("### muster: 2 failing tests, 1 overlapped a disruption"), "\(summary)")
        let hit = try #require(summary.range(of: "#### Failing tests that overlapped a disruption"), "\(summary)")
        let own = try #require(summary.range(of: "#### Failing tests that overlapped no disruption"), "\(summary)")
        #expect(hit.upperBound < own.lowerBound)
        let hitTable = summary[hit.upperBound..<own.lowerBound]
        #expect(
            hitTable.contains("`tests/test_app.py::test_notify`") && hitTable.contains("notifier restarted")
                && hitTable.contains("killed by SIGKILL") && !hitTable.contains("test_own_bug"), "\(summary)")
        #expect(summary[own.upperBound...].contains("`tests/test_app.py::test_own_bug`"), "\(summary)")
        #expect(summary.contains("#### Disruptions"))

        // down ran after the failing command, and left nothing.
        #expect(ran.first { $0.0 == "down" }?.2.contains("nothing was left behind") == true, "\(log)")
        #expect(ControlClient.connect(stack.paths) == nil)
        #expect(
            (RuntimeState.readAny(stack.paths)?.groups ?? []).allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })
    }

    /// A stack that cannot come up: run is skipped, the summary says there is no report,
    /// down still runs, and the job fails.
    @Test func whenUpFailsTheAlwaysStepsStillRun() async throws {
        let stack = try TestStack(
            """
            services:
              broken:
                command: "echo starting; exit 4"
                ready: { log: never }
            """)
        defer { stack.cleanup() }
        let runnerTemp = stack.directory + "/runner-temp"
        try FileManager.default.createDirectory(atPath: runnerTemp, withIntermediateDirectories: true)
        let ran = try await runAction(
            in: stack.directory, runnerTemp: runnerTemp,
            inputs: [
                "MUSTER_STACK_FILE": stack.file, "MUSTER_COMMAND": "touch ran", "MUSTER_UP_TIMEOUT": "20s",
            ])
        let log = ran.map { "[\($0.0) → \($0.1)]\n\($0.2)" }.joined(separator: "\n")
        #expect(ran.map(\.0) == ["install", "up", "summary", "collect", "down", "finish"], "\(log)")
        #expect(ran.first { $0.0 == "up" }?.1 != 0)
        #expect(ran.last?.1 != 0, "the job fails: \(log)")
        #expect(!FileManager.default.fileExists(atPath: stack.directory + "/ran"))
        let summary = try String(contentsOfFile: runnerTemp + "/summary.md", encoding: .utf8)
        #expect(summary.contains("### muster: no run report"), "\(summary)")
        #expect(ControlClient.connect(stack.paths) == nil)
        #expect(
            (RuntimeState.readAny(stack.paths)?.groups ?? []).allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty })
    }
}
