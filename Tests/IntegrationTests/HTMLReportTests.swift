import Foundation
import Testing
@testable import MusterKit

/// `muster report --html` end to end: the page a saved report draws, opened in headless
/// Chromium (Debian's `chromium`, installed by scripts/install-deps when it can be).
/// The screenshot stays in .build/test-artifacts/html-report/ for people to look at.
@Suite struct HTMLReportTests {
    static let fixture = TestStack.repoRoot + "/Tests/Fixtures/reports/notifier-restart.json"
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    func workspace(_ name: String = #function) throws -> String {
        let slug = String(name.filter { $0.isLetter }.prefix(24))
        let directory = NSTemporaryDirectory() + "muster-tests/html-\(slug)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func reportCommandRefusesBadInputWithOneLineAndExit2() async throws {
        let directory = try workspace()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "not json at all".write(toFile: directory + "/broken.json", atomically: true, encoding: .utf8)
        try "{\"hello\": 1}".write(toFile: directory + "/other.json", atomically: true, encoding: .utf8)
        for (file, says) in [
            ("missing.json", "missing.json: does not exist"), ("broken.json", "broken.json: not JSON"),
            ("other.json", "other.json: not a muster run report"),
        ] {
            let result = try await CLIResult.run(["report", "--html", "out.html", file], in: directory)
            #expect(result.status == 2, "\(file): \(result.output)")
            let lines = result.output.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains(says) == true, "\(result.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/out.html"))
        let unwritable = try await CLIResult.run(
            ["report", "--html", "no/such/folder/out.html", Self.fixture], in: directory)
        #expect(
            unwritable.status == 2
                && unwritable.output.contains("cannot write the HTML report to no/such/folder/out.html"))
        // muster run refuses it before starting anything or running CMD.
        let run = try await CLIResult.run(
            ["run", "--html", "no/such/folder/out.html", "--", "sh", "-c", "touch ran"], in: directory)
        #expect(
            run.status == 2 && run.output.contains("cannot write the HTML report to no/such/folder/out.html"),
            "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/ran"))
    }

    /// `muster run --html` against a real stack whose service is killed while CMD runs:
    /// the page shows the restart, and is the page `muster report --html` draws from
    /// the JSON report of the same run.
    @Test func runDrawsTheRestartItSaw() async throws {
        let stack = try TestStack(
            """
            services:
              consumer:
                command: "echo consuming; while true; do sleep 0.1; done"
                ready: { log: consuming }
                restart: on-failure
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let consumer = try #require(try await stack.status().services.first { $0.name == "consumer" }?.pid)
        let run = try await stack.muster(
            "run", "--report", "run.json", "--html", "run.html", "--",
            "sh", "-c", "kill -9 \(consumer); sleep 1")
        #expect(run.status == 0, "\(run.output)")
        let drawn = try String(contentsOfFile: stack.directory + "/run.html", encoding: .utf8)
        #expect(drawn.contains("<g class=\"marker restarted\""))
        #expect(drawn.contains(">consumer</text>"))
        let again = try await stack.muster("report", "--html", "again.html", "run.json")
        #expect(again.status == 0, "\(again.output)")
        #expect(try String(contentsOfFile: stack.directory + "/again.html", encoding: .utf8) == drawn)
        #expect(try await stack.muster("down").status == 0)
    }

    @Test(
        .enabled(
            if: chromium != nil,
            "chromium is not installed (scripts/install-deps installs it; apt-get install chromium)"))
    func chromiumShowsTheFailedTestBesideTheRestart() async throws {
        let chromium = try #require(Self.chromium)
        let directory = try workspace()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let page = directory + "/run.html"
        let made = try await CLIResult.run(["report", "--html", page, Self.fixture], in: directory)
        #expect(made.status == 0, "\(made.output)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(!html.contains("src=") && !html.contains("<link") && !html.contains("url("), "the page loads nothing")

        // The screenshot: not blank, and the failure red, the ready green and the restart marker are on it.
        let artifacts = TestStack.repoRoot + "/.build/test-artifacts/html-report"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let png = artifacts + "/notifier-restart.png"
        try? FileManager.default.removeItem(atPath: png)
        let shot = try await browser(
            chromium, in: directory, ["--window-size=1400,1000", "--screenshot=\(png)", "file://" + page])
        #expect(FileManager.default.fileExists(atPath: png), "\(shot.output)")
        let python =
            FileManager.default.isExecutableFile(atPath: TestStack.python) ? TestStack.python : "/usr/bin/python3"
        let colours = try await CLIResult.run(
            command: [
                python, TestStack.repoRoot + "/scripts/png-colours", png,
                "#d62f2f", "#cde9d0", "#6b1512", "#ffffff",
            ], in: directory)
        let summary = try #require(
            try JSONSerialization.jsonObject(with: Data(colours.output.utf8)) as? [String: Any], "\(colours.output)")
        let near = summary["near"] as? [String: Int] ?? [:]
        #expect(summary["width"] as? Int == 1400)
        #expect((summary["distinct"] as? Int ?? 0) > 20, "a blank page has one or two colours: \(summary)")
        #expect(near["#d62f2f", default: 0] > 200, "failed test bars: \(summary)")
        #expect(near["#cde9d0", default: 0] > 2000, "ready service spans: \(summary)")
        #expect(near["#6b1512", default: 0] > 20, "the restart marker: \(summary)")

        // The DOM, as Chromium built it, after a click on a failed test that overlapped the restart.
        let probe = directory + "/probe.html"
        try (html.replacingOccurrences(of: "</body>", with: Self.clickScript + "</body>")).write(
            toFile: probe, atomically: true, encoding: .utf8)
        let dom = try await browser(
            chromium, in: directory, ["--dump-dom", "--virtual-time-budget=3000", "file://" + probe])
        let restarts = Self.elements(in: dom.output, matching: "<g class=\"marker restarted")
        let failed = Self.elements(in: dom.output, matching: "<rect class=\"bar failed")
        #expect(restarts.count == 1, "\(dom.output.prefix(500))")
        #expect(failed.count == 3)
        let marker = try #require(restarts.first)
        let overlapping = failed.filter { $0.start <= marker.end && marker.start <= $0.end }
        #expect(overlapping.count == 2, "failed bars overlapping the restart in time: \(overlapping)")
        #expect(overlapping.allSatisfy { $0.attributes.contains("data-disruptions=\"41\"") })
        #expect(marker.attributes.contains("data-seq=\"41\""))
        let check = try #require(
            dom.output.range(of: "data-check=\"").map { dom.output[$0.upperBound...].prefix { $0 != "\"" } })
        #expect(check == "selected=1 hit-band=1 hit-marker=1 hit-row=1 dimmed-marker=0", "after the click: \(check)")
        #expect(Self.leftovers(of: directory).isEmpty, "chromium processes left: \(Self.leftovers(of: directory))")
    }

    /// Clicks the first failed test that overlapped disruption 41, then writes what the
    /// page highlighted into `data-check` on <body> (test harness only, not in the page).
    static let clickScript = """
        <script>
        var bar = document.querySelector('rect.bar.failed[data-disruptions="41"]');
        bar.dispatchEvent(new MouseEvent("click", {bubbles: true}));
        var n = function (s) { return document.querySelectorAll(s).length; };
        document.body.setAttribute("data-check", "selected=" + n("rect.bar.sel") + " hit-band=" + n("rect.band.hit[data-seq='41']") +
          " hit-marker=" + n("g.marker.hit[data-seq='41']") + " hit-row=" + n("#disruptions tr.hit") +
          " dimmed-marker=" + n("g.marker:not(.hit)"));
        </script>
        """

    struct Element: CustomStringConvertible {
        var attributes: String
        var start: Int64
        var end: Int64
        var description: String { "[\(start), \(end)] \(attributes.prefix(120))" }
    }

    /// The elements whose opening tag starts with `prefix`, with their data-start/data-end.
    static func elements(in dom: String, matching prefix: String) -> [Element] {
        dom.components(separatedBy: prefix).dropFirst().compactMap { rest in
            let tag = String(rest.prefix { $0 != ">" })
            func value(_ name: String) -> Int64? {
                guard let range = tag.range(of: " \(name)=\"") else { return nil }
                return Int64(tag[range.upperBound...].prefix { $0 != "\"" })
            }
            guard let start = value("data-start"), let end = value("data-end") else { return nil }
            return Element(attributes: tag, start: start, end: end)
        }
    }

    /// Runs headless Chromium with a profile of its own in `directory`.
    func browser(_ chromium: String, in directory: String, _ arguments: [String]) async throws -> CLIResult {
        try await CLIResult.run(
            command: [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--user-data-dir=\(directory)/profile",
            ] + arguments,
            in: directory, environment: ["DBUS_SESSION_BUS_ADDRESS": "disabled:"])
    }

    /// Processes whose command line names `directory` (Chromium's helpers, if any outlived it).
    static func leftovers(of directory: String) -> [String] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return pids.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else {
                return nil
            }
            let line = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " ")
            return line.contains(directory + "/profile") ? "\(pid) \(line.prefix(80))" : nil
        }
    }
}
