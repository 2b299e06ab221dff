import ArgumentParser
import Foundation
import MusterKit
#if canImport(Glibc)
import Glibc
#endif

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command against the ready stack, then report every restart and availability gap during it.",
        discussion: """
        Reuses the running stack or starts one (and then stops it afterwards). CMD gets the stack's connection \
        variables (DB_URL, CACHE_URL, ...) plus MUSTER_PROJECT and MUSTER_EVENTS. Exit code: CMD's own when \
        non-zero; otherwise 3 with --fail-on-restart when a service restarted, exited or was unavailable while \
        CMD ran; otherwise 0. With CI=true, findings are also printed as GitHub Actions annotations.

        Example: muster run --fail-on-restart --report muster-report.json -- pytest -n 4
        """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Exit 3 when a service was not continuously up while CMD ran.") var failOnRestart = false
    @Option(help: "Write the JSON run report here.") var report: String?
    @Option(help: "Also draw the run as one self-contained HTML page here.") var html: String?
    @Option(help: "How long the stack may take to become ready (default 120s).") var timeout: String?
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String] = []

    func run() async throws {
        let command = self.command.first == "--" ? Array(self.command.dropFirst()) : self.command
        guard !command.isEmpty else { throw MusterError(.usage, "no command to run; write muster run -- CMD [ARG...]") }
        let (_, paths) = try global.resolve()
        let limit = try parseDurationOption(timeout ?? "120s", option: "--timeout")
        let err = Console.standardError
        let prefix = err.paint("muster │ ", .bold)

        var up = DetachedUp(global: global, services: [], timeout: limit, keepOnFailure: false)
        up.console = err
        let startedHere = try await up.run()
        let exitCode: Int32
        let started = Date()
        let firstSeq = EventLog.lastSeq(in: paths.eventsFile) + 1
        do {
            let client = try global.runningClient(paths)
            var environment = ProcessInfo.processInfo.environment
            let variables = try ControlJSON.decode([String: String].self, from: client.request("GET", "/v1/env").body)
            environment.merge(variables) { _, new in new }
            environment["MUSTER_PROJECT"] = paths.project
            environment["MUSTER_EVENTS"] = paths.eventsFile
            exitCode = try await Self.execute(command, environment: environment)
        } catch {
            if startedHere { try? Down.perform(paths: paths, volumes: false, out: err) }
            throw error
        }
        let ended = Date()
        let events = EventRecord.read(paths.eventsFile, seqs: firstSeq...Int.max)
        let services = ((try? global.runningClient(paths).status().services) ?? []).map(\.name)
        let result = RunReport(command: command, started: started, ended: ended, exitCode: exitCode, services: services, events: events)
        if let report {
            guard FileManager.default.createFile(atPath: report, contents: result.json + Data("\n".utf8)) else {
                throw MusterError(.usage, "cannot write the report to \(report); check the folder exists and is writable")
            }
        }
        if let html { try HTMLReport.write(RunTimeline.decode(result.json, name: "the run report"), to: html) }
        let seconds = String(format: "%.1fs", ended.timeIntervalSince(started))
        if result.clean {
            err.line(prefix + err.paint("no service restarted or became unavailable while the command ran (\(seconds))", .green))
        } else {
            err.line(prefix + err.paint("\(result.findings.count) service(s) were not continuously up while the command ran (\(seconds)):", .boldRed))
            for finding in result.findings { err.line(prefix + "  \(finding.service): \(finding.text)") }
        }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            let level = failOnRestart ? "error" : "warning"
            for finding in result.findings {
                print("::\(level) title=muster: \(finding.service) was not continuously up::\(Self.annotationEscaped(finding.service + " " + finding.text))")
            }
        }
        if startedHere { try Down.perform(paths: paths, volumes: false, out: err) }
        if exitCode != 0 { throw ExitCode(exitCode) }
        if failOnRestart && !result.clean { throw ExitCode(3) }
    }

    /// Runs CMD in the foreground with muster's own stdin, stdout and stderr; a
    /// Ctrl-C reaches CMD (same process group) and muster waits for it to end.
    static func execute(_ command: [String], environment: [String: String]) async throws -> Int32 {
        let cwd = FileManager.default.currentDirectoryPath
        guard let executable = ProgramLocator.find(command[0], workingDir: cwd, path: environment["PATH"] ?? "/usr/bin:/bin") else {
            FileHandle.standardError.write(Data("muster: \(command[0]): command not found\n".utf8))
            return 127
        }
        _ = SignalWatcher()  // ignore SIGINT/SIGTERM here: CMD decides, muster reports afterwards
        var request = SpawnRequest(executable: executable, arguments: command,
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
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }
}
