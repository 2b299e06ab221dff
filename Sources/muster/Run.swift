import ArgumentParser
import Foundation
import MusterKit

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command against the ready stack, then report every restart and availability gap during it.",
        discussion: """
            Reuses the running stack or starts one (and then stops it afterwards). CMD gets the stack's connection \
            variables (DB_URL, CACHE_URL, ...) plus MUSTER_PROJECT, MUSTER_EVENTS, MUSTER_CONTROL_SOCKET (the control \
            API's unix socket) and MUSTER_TESTS_FILE (a fresh file for this run where a test runner plugin, such as \
            pytest-muster, appends one JSON line per test).

            Afterwards muster reads those tests, and every --tests FILE (Playwright's JSON reporter output, JUnit XML \
            whose testcases or testsuites carry a timestamp, or go test -json output), and says which failing tests \
            overlapped a restart, exit or unavailability of a service, and which failed on their own. The report \
            (--report) gains "tests", "disruptions", each service's "tests", and each Postgres service's connection \
            peak ("postgres").

            Exit code: CMD's own when non-zero; otherwise 2 when a --tests file cannot be read; otherwise 3 with \
            --fail-on-restart when a service restarted, exited or was unavailable while CMD ran; otherwise 0. With \
            CI=true, findings are also printed as GitHub Actions annotations that name the tests.

            Example: muster run --fail-on-restart --report muster-report.json --tests results.json -- npx playwright test
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Exit 3 when a service was not continuously up while CMD ran.") var failOnRestart = false
    @Option(help: "Write the JSON run report here.") var report: String?
    @Option(help: "Also draw the run as one self-contained HTML page here.") var html: String?
    @Option(
        help: ArgumentHelp(
            "Also write the tests as JUnit XML here, a failing test's disruptions in its <failure> and <system-err>.",
            valueName: "FILE"))
    var junit: String?
    @Option(
        help: ArgumentHelp(
            "Name this run as one shard of a suite split across machines (default: $MUSTER_SHARD), for muster report --merge.",
            valueName: "NAME"))
    var shard: String?
    @Option(help: "How long the stack may take to become ready (default 120s).") var timeout: String?
    @Option(help: ArgumentHelp(CacheOption.help, valueName: "DIR")) var cache: String?
    @Option(
        name: .customLong("tests"),
        help: ArgumentHelp(
            "A test report CMD writes: Playwright JSON, JUnit XML or go test -json (repeatable).",
            valueName: "FILE"))
    var testReports: [String] = []
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command:
        [String] = []

    func run() async throws {
        // Passthrough capture takes `run --help` as CMD; it means this help.
        if ["--help", "-h"].contains(self.command.first ?? "") {
            print(Self.helpMessage())
            return
        }
        let command = self.command.first == "--" ? Array(self.command.dropFirst()) : self.command
        guard !command.isEmpty else { throw MusterError(.usage, "no command to run; write muster run -- CMD [ARG...]") }
        // Before CMD runs, so its exit code is never traded for these.
        if let html { try ReportFile.checkWritable(html, what: "HTML report") }
        if let junit { try ReportFile.checkWritable(junit, what: "JUnit report") }
        try CacheOption.apply(cache)
        // A merged report draws a shard's lanes as SHARD/SERVICE: a "/" in the name would mix two shards.
        if let name = shard ?? ProcessInfo.processInfo.environment["MUSTER_SHARD"], name.contains("/") {
            throw MusterError(
                .usage, "shard name \"\(name)\" has a \"/\"; name a shard with letters, digits, '-', '_' or '.'")
        }
        // A running stack is used as it was resolved; only starting one reads the whole file.
        let (_, paths) = try global.resolveRunning()
        let limit = try parseDurationOption(timeout ?? "120s", option: "--timeout")
        let err = Console.standardError

        var up = DetachedUp(global: global, services: [], timeout: limit, keepOnFailure: false)
        up.console = err
        let startedHere: Bool
        if let client = ControlClient.connect(paths) {
            try up.attach(client, paths: paths)
            startedHere = false
        } else {
            startedHere = try await up.run()
        }
        let exitCode: Int32
        let started = Date()
        let firstSeq = EventLog.lastSeq(in: paths.eventsFile) + 1
        let testsFile: String
        let status: StatusReport
        let sampler: PostgresPressureSampler
        do {
            let client = try global.runningClient(paths)
            status = try client.status()
            testsFile = try Self.freshTestsFile(paths)
            var environment = ProcessInfo.processInfo.environment
            let variables = try ControlJSON.decode([String: String].self, from: client.request("GET", "/v1/env").body)
            environment.merge(variables) { _, new in new }
            environment["MUSTER_PROJECT"] = paths.project
            environment["MUSTER_EVENTS"] = paths.eventsFile
            environment["MUSTER_TESTS_FILE"] = testsFile
            environment["MUSTER_CONTROL_SOCKET"] = paths.controlSocket
            sampler = PostgresPressureSampler(
                targets: status.services.filter { $0.kind == "postgres" && $0.pid != nil }.compactMap { service in
                    service.ports.first.map {
                        PostgresPressureSampler.Target(
                            service: service.name, socketDir: paths.postgresSocketDir(for: service.name), port: $0)
                    }
                })
            sampler.start()
            exitCode = try await Self.execute(command, environment: environment)
        } catch {
            if startedHere { try? await Down.perform(paths: paths, volumes: false, out: err) }
            throw error
        }
        let ended = Date()
        let postgres = sampler.stop()
        let tests = Self.readTests(file: testsFile, reports: testReports, err: err)
        var result = Self.report(
            command: command, started: started, ended: ended, exitCode: exitCode, paths: paths,
            status: status, firstSeq: firstSeq, tests: tests.records, postgres: postgres)
        result.shard = shard ?? ProcessInfo.processInfo.environment["MUSTER_SHARD"].flatMap { $0.isEmpty ? nil : $0 }
        result.host = Self.hostName()
        // Problems after CMD are told, and exit 2, but never hide CMD's own failure.
        var problems = tests.problems
        let json = result.json
        if let report {
            do { try ReportFile.write(json + Data("\n".utf8), to: report, what: "report") } catch {
                problems.append(error as? MusterError ?? MusterError(.usage, "\(error)"))
            }
        }
        if html != nil || junit != nil {
            do {
                let timeline = try RunTimeline.decode(json, name: "the run report")
                if let html { try HTMLReport.write(timeline, to: html) }
                if let junit { try JUnitReport.write(timeline, to: junit) }
            } catch {
                problems.append(error as? MusterError ?? MusterError(.usage, "\(error)"))
            }
        }
        summarize(result, seconds: ended.timeIntervalSince(started), err: err)
        // One-shots that may want `task: true`, unless up told them before CMD ran.
        for hint in TaskSuggestion.recorded(in: paths.eventsFile, since: RFC3339.time(status.started))
        where !up.hintsTold.contains(hint.service) {
            err.line(err.paint("muster │ ", .bold) + err.paint(TaskSuggestion.line(hint), .yellow))
        }
        if startedHere { try await Down.perform(paths: paths, volumes: false, out: err) }
        for problem in problems { Output.error(problem) }
        if exitCode != 0 { throw ExitCode(exitCode) }
        if !problems.isEmpty { throw ExitCode(2) }
        if failOnRestart && !result.clean { throw ExitCode(3) }
    }

    /// Runs CMD in the foreground with muster's own stdin, stdout and stderr; a
    /// Ctrl-C reaches CMD (same process group) and muster waits for it to end.
    static func execute(_ command: [String], environment: [String: String]) async throws -> Int32 {
        let cwd = FileManager.default.currentDirectoryPath
        guard
            let executable = ProgramLocator.find(
                command[0], workingDir: cwd, path: environment["PATH"] ?? "/usr/bin:/bin")
        else {
            FileHandle.standardError.write(Data("muster: \(command[0]): command not found\n".utf8))
            return 127
        }
        _ = SignalWatcher()  // ignore SIGINT/SIGTERM here: CMD decides, muster reports afterwards
        var request = SpawnRequest(
            executable: executable, arguments: command,
            environment: environment.map { "\($0.key)=\($0.value)" }, workingDirectory: cwd)
        request.inputFD = 0
        request.outputFD = 1
        request.errorFD = 2
        request.newSession = false
        let pid = try await ProcessSpawner.shared.spawn(request)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        return status.shellCode
    }

    /// GitHub Actions annotation data: `%`, CR and LF escaped.
    static func annotationEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    /// This machine's name, for merged reports (gethostname: no name lookups).
    static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, 255) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

}
