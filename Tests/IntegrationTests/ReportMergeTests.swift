import Foundation
import Testing
@testable import MusterKit

/// `muster report --merge` on three shard reports made by real `muster run`s of three
/// projects at the same time: shard alpha's notifier is SIGKILLed under a failing test;
/// shard beta has a notifier of its own and a failing test over the same wall-clock
/// time, which must not be given alpha's restart; shard gamma passes. The merged JSON,
/// JUnit (read by junitparser) and HTML (screenshot in headless Chromium) are checked.
@Suite(.serialized) struct ReportMergeTests {
    static func stackText(_ service: String) -> String {
        """
        services:
          \(service):
            command: "echo $$$$ > \(service).pid; echo listening; while true; do sleep 0.1; done"
            ready: { log: listening }
            restart: on-failure
        """
    }

    /// `suite.py ROLE SHARED`: records pytest-like tests in MUSTER_TESTS_FILE; alpha
    /// kills its notifier and writes the restart's window to SHARED, the others wait
    /// for that window and record tests over it.
    static let script = #"""
        import datetime, json, os, signal, sys, time

        role, shared = sys.argv[1], sys.argv[2]
        window_file = os.path.join(shared, "alpha-window")

        def iso(t):
            return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

        def record(id, outcome, start, end, worker):
            with open(os.environ["MUSTER_TESTS_FILE"], "a") as out:
                out.write(json.dumps({"id": id, "outcome": outcome, "start": iso(start), "end": iso(end),
                                      "worker": worker, "source": "pytest"}) + "\n")

        def readies(service):
            with open(os.environ["MUSTER_EVENTS"]) as events:
                return sum(f'"service":"{service}","type":"ready"' in line for line in events)

        def alpha_window():
            deadline = time.time() + 60
            while not os.path.exists(window_file):
                if time.time() > deadline:
                    sys.exit("alpha never wrote its window")
                time.sleep(0.05)
            time.sleep(0.05)
            return json.load(open(window_file))

        if role == "alpha":
            t1 = time.time(); time.sleep(0.2); t2 = time.time()
            record("tests/test_orders.py::test_own_failure", "failed", t1, t2, "gw0")
            seen = readies("notifier")
            t3 = time.time()
            os.kill(int(open("notifier.pid").read()), signal.SIGKILL)
            while readies("notifier") <= seen:
                time.sleep(0.05)
            t4 = time.time()
            record("tests/test_orders.py::test_during", "failed", t3, t4, "gw1")
            time.sleep(0.3); t5 = time.time()
            record("tests/test_orders.py::test_after", "passed", t4 + 0.1, t5, "gw0")
            with open(window_file + ".tmp", "w") as out:
                json.dump([t3, t4], out)
            os.rename(window_file + ".tmp", window_file)
            sys.exit(1)
        elif role == "beta":
            t3, t4 = alpha_window()
            record("tests/test_orders.py::test_same_time", "failed", t3 - 0.05, time.time(), "gw0")
            record("tests/test_payments.py::test_ok", "passed", t3 - 0.05, time.time(), "gw1")
            sys.exit(1)
        else:
            t3, t4 = alpha_window()
            record("checkout.spec.ts › pays", "passed", t3 - 0.05, time.time(), "gw0")
            record("checkout.spec.ts › ships", "passed", t3, time.time(), "gw1")
        """#

    func workspace(_ name: String = #function) throws -> String {
        let slug = String(name.filter { $0.isLetter }.prefix(24))
        let directory = NSTemporaryDirectory() + "muster-tests/merge-\(slug)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    func object(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func threeShardsBecomeOneReport() async throws {
        let shared = try workspace()
        defer { try? FileManager.default.removeItem(atPath: shared) }
        let alpha = try TestStack(Self.stackText("notifier"), name: "mergealpha")
        let beta = try TestStack(Self.stackText("notifier"), name: "mergebeta")
        let gamma = try TestStack(Self.stackText("worker"), name: "mergegamma")
        defer { alpha.cleanup(); beta.cleanup(); gamma.cleanup() }
        for stack in [alpha, beta, gamma] {
            try Self.script.write(toFile: stack.directory + "/suite.py", atomically: true, encoding: .utf8)
        }
        // The three at once: alpha names its shard with --shard, beta with MUSTER_SHARD, gamma not at all.
        async let a = CLIResult.run(
            command: [
                TestStack.binary, "run", "--shard", "alpha", "--report", "r.json", "--",
                TestStack.python, "suite.py", "alpha", shared,
            ], in: alpha.directory)
        async let b = CLIResult.run(
            command: [
                TestStack.binary, "run", "--report", "r.json", "--",
                TestStack.python, "suite.py", "beta", shared,
            ], in: beta.directory,
            environment: ["MUSTER_SHARD": "beta"])
        async let g = CLIResult.run(
            command: [
                TestStack.binary, "run", "--report", "r.json", "--",
                TestStack.python, "suite.py", "gamma", shared,
            ], in: gamma.directory,
            environment: ["MUSTER_SHARD": nil])
        let runs = try await [a, b, g]
        #expect(runs.map(\.status) == [1, 1, 0], "\(runs.map(\.output))")
        for stack in [alpha, beta, gamma] {
            #expect(ControlClient.connect(stack.paths) == nil)
            #expect(
                (RuntimeState.readAny(stack.paths)?.groups ?? []).allSatisfy {
                    ProcessTable.members(ofGroup: $0).isEmpty
                })
        }
        try FileManager.default.copyItem(atPath: alpha.directory + "/r.json", toPath: shared + "/alpha.json")
        try FileManager.default.copyItem(atPath: beta.directory + "/r.json", toPath: shared + "/beta.json")
        try FileManager.default.copyItem(atPath: gamma.directory + "/r.json", toPath: shared + "/gamma.json")
        let alphaSeq = try #require(
            ((try object(shared + "/alpha.json"))["disruptions"] as? [[String: Any]])?.first?["seq"] as? Int)

        let merge = try await CLIResult.run(
            [
                "report", "--merge", "alpha.json", "beta.json", "gamma.json", "-o", "merged.json",
                "--html", "merged.html", "--junit", "merged.xml",
            ], in: shared)
        #expect(merge.status == 0, "\(merge.output)")
        #expect(merge.output.contains("3 shards (alpha, beta, gamma): 7 tests (3 failed, 4 passed)"), "\(merge.output)")
        #expect(
            merge.output.contains(
                "1 failing test overlapped a restart of alpha/notifier: [alpha] tests/test_orders.py::test_during"),
            "\(merge.output)")
        #expect(
            merge.output.contains(
                "overlapped no disruption (the code's own failures): [alpha] tests/test_orders.py::test_own_failure, [beta] tests/test_orders.py::test_same_time"
            ),
            "\(merge.output)")

        let merged = try object(shared + "/merged.json")
        #expect(merged["muster_version"] as? String == BuildInfo.version)
        let shards = try #require(merged["shards"] as? [[String: Any]])
        #expect(shards.compactMap { $0["name"] as? String } == ["alpha", "beta", "gamma"])
        let services = try #require(merged["services"] as? [String: Any])
        #expect(
            Set(services.keys) == ["alpha/notifier", "beta/notifier", "gamma/worker"],
            "each shard's services are its own")
        let disruptions = try #require(merged["disruptions"] as? [[String: Any]])
        #expect(disruptions.count == 1, "\(disruptions)")
        let restart = try #require(disruptions.first)
        #expect(
            restart["service"] as? String == "alpha/notifier" && restart["shard"] as? String == "alpha"
                && restart["shard_seq"] as? Int == alphaSeq && restart["kind"] as? String == "restarted", "\(restart)")
        let seq = try #require(restart["seq"] as? Int)

        let tests = try #require(merged["tests"] as? [[String: Any]])
        let keys = tests.map { "\($0["shard"] as? String ?? "?") \($0["id"] as? String ?? "?")" }
        #expect(keys.count == 7 && Set(keys).count == 7, "every test once: \(keys)")
        var attributed: [String: [Int]] = [:]
        for test in tests {
            attributed["\(test["shard"] as? String ?? "?") \(test["id"] as? String ?? "?")"] =
                test["disruptions"] as? [Int]
        }
        #expect(
            attributed == [
                "alpha tests/test_orders.py::test_own_failure": [],
                "alpha tests/test_orders.py::test_during": [seq],
                "alpha tests/test_orders.py::test_after": [],
                "beta tests/test_orders.py::test_same_time": [],
                "beta tests/test_payments.py::test_ok": [],
                "gamma checkout.spec.ts › pays": [],
                "gamma checkout.spec.ts › ships": [],
            ])
        // beta's failing test ran over alpha's restart: the times overlap, the shards do not.
        let sameTime = try #require(tests.first { $0["id"] as? String == "tests/test_orders.py::test_same_time" })
        let start = try #require(RFC3339.seconds(sameTime["start"] as? String ?? "")),
            end = try #require(RFC3339.seconds(sameTime["end"] as? String ?? ""))
        let from = try #require(RFC3339.seconds(restart["start"] as? String ?? "")),
            to = try #require(RFC3339.seconds(restart["end"] as? String ?? ""))
        #expect(start <= to && end >= from, "beta's test overlaps alpha's restart in time")
        #expect(tests.allSatisfy { $0["worker"] is String })
        let summary = try #require(merged["summary"] as? [String: Any])
        #expect(summary["tests"] as? Int == 7 && summary["failing_overlapped_disruption"] as? Int == 1, "\(summary)")

        // The JUnit file: a suite per shard, the restart on alpha's test_during only.
        let read = try await JUnitOutputTests.read("merged.xml", in: shared)
        #expect(read.status == 0, "\(read.output)")
        let junit = try #require(read.object)
        #expect(
            (junit["suites"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == [
                "alpha pytest", "beta pytest", "gamma pytest",
            ])
        let cases = junit["cases"] as? [[String: Any]] ?? []
        #expect(cases.count == 7)
        let carrying = cases.filter { $0["system_err"] is String }
        #expect(
            carrying.map { "\($0["suite"] as? String ?? "") \($0["name"] as? String ?? "")" } == [
                "alpha pytest test_during"
            ])
        #expect((carrying.first?["message"] as? String)?.contains("alpha/notifier restarted") == true, "\(carrying)")

        // The page: a group of lanes per shard on one axis.
        let html = try String(contentsOfFile: shared + "/merged.html", encoding: .utf8)
        for heading in ["shard alpha", "shard beta", "shard gamma"] {
            #expect(html.contains(">\(heading)"), "\(heading)")
        }
        #expect(html.components(separatedBy: "class=\"shard-rule\"").count - 1 == 3)
        #expect(
            html.components(separatedBy: "class=\"lane-label\"").count - 1 == 3 + 6,
            "3 service lanes and 6 worker lanes")
        // The same page from the merged JSON.
        let again = try await CLIResult.run(["report", "--html", "again.html", "merged.json"], in: shared)
        #expect(again.status == 0, "\(again.output)")
        #expect(try String(contentsOfFile: shared + "/again.html", encoding: .utf8) == html)

        if let chromium = HTMLReportTests.chromium {
            let artifacts = TestStack.repoRoot + "/.build/test-artifacts/html-report"
            try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
            let png = artifacts + "/merged-shards.png"
            try? FileManager.default.removeItem(atPath: png)
            let shot = try await HTMLReportTests().browser(
                chromium, in: shared,
                ["--window-size=1400,900", "--screenshot=\(png)", "file://" + shared + "/merged.html"])
            #expect(FileManager.default.fileExists(atPath: png), "\(shot.output)")
            let colours = try await CLIResult.run(
                command: [
                    TestStack.python, TestStack.repoRoot + "/scripts/png-colours", png,
                    "#d62f2f", "#cde9d0", "#6b1512",
                ], in: shared)
            let found = try #require(
                try JSONSerialization.jsonObject(with: Data(colours.output.utf8)) as? [String: Any], "\(colours.output)"
            )
            let near = found["near"] as? [String: Int] ?? [:]
            #expect((found["distinct"] as? Int ?? 0) > 20, "\(found)")
            #expect(near["#cde9d0", default: 0] > 3000, "three shards' ready lanes: \(found)")
            #expect(near["#d62f2f", default: 0] > 50, "failed test bars: \(found)")
            #expect(near["#6b1512", default: 0] > 10, "alpha's restart marker: \(found)")
            // Chromium's zygote can outlive the browser by a moment on a loaded machine.
            #expect(
                await eventually(within: .seconds(10)) { HTMLReportTests.leftovers(of: shared).isEmpty },
                "\(HTMLReportTests.leftovers(of: shared))")
        }

        // Bad input: one line naming the file and the problem, exit 2.
        try "{\"hello\": 1}".write(toFile: shared + "/other.json", atomically: true, encoding: .utf8)
        var old = try object(shared + "/gamma.json")
        old["muster_version"] = "0.5.0"
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: shared + "/old.json"))
        try FileManager.default.createDirectory(atPath: shared + "/copy", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: shared + "/alpha.json", toPath: shared + "/copy/alpha-again.json")
        for (files, says) in [
            (["alpha.json", "other.json"], "other.json: not a muster run report"),
            (["alpha.json", "missing.json"], "missing.json: does not exist"),
            (["alpha.json", "old.json"], "old.json: written by muster 0.5.0, and this is muster \(BuildInfo.version)"),
            (
                ["alpha.json", "beta.json", "copy/alpha-again.json"],
                "alpha.json and copy/alpha-again.json are both shard \"alpha\""
            ),
            (["merged.json", "gamma.json"], "merged.json: already a merged report"),
            (["alpha.json"], "--merge needs two reports or more"),
        ] {
            let refused = try await CLIResult.run(["report", "--merge"] + files + ["-o", "bad.json"], in: shared)
            let lines = refused.output.split(separator: "\n")
            #expect(
                refused.status == 2 && lines.count == 1 && lines.first?.contains(says) == true,
                "\(files): \(refused.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: shared + "/bad.json"))
    }
}
