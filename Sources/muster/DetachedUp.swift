import Foundation
import MusterKit

/// `muster up -d`: starts a detached supervisor (or reuses the running one) and
/// returns once every service is ready, or fails with the failing service's name,
/// reason and last log lines.
struct DetachedUp {
    let global: GlobalOptions
    let services: [String]
    let timeout: Duration
    let keepOnFailure: Bool
    /// Act on `watch:` rules (false with --no-watch).
    var watchFiles = true
    /// `--watch`: also every service's source files.
    var watchSources = false

    /// Progress goes to stdout, or to stderr for `run`, whose command owns stdout.
    var console: Console = .standardOutput
    /// Services whose `task: true` hint this command has printed (`run` prints the rest after CMD).
    let hintsTold = HintsTold()

    init(global: GlobalOptions, services: [String], timeout: Duration, keepOnFailure: Bool) {
        self.global = global
        self.services = services
        self.timeout = timeout
        self.keepOnFailure = keepOnFailure
    }
    private var prefix: String { console.paint("muster │ ", .bold) }

    /// Returns true when it started a new supervisor, false when one was running.
    @discardableResult
    func run() async throws -> Bool {
        let (stack, paths) = try early.map { ($0.stack, $0.paths) } ?? resolved()
        if let launch = early?.launch {
            try await awaitReady(launch, stack: stack, paths: paths)
            return true
        }
        if let client = ControlClient.connect(paths) ?? waitForStartingSupervisor(paths) {
            try attach(client, paths: paths)
            return false
        }
        try await awaitReady(try await spawnSupervisor(stack: stack, paths: paths), stack: stack, paths: paths)
        return true
    }

    private func resolved() throws -> (StackSpec, ProjectPaths) {
        let (stack, paths) = try global.resolve()
        try global.checkServices(services, in: stack)
        try paths.prepare()
        return (stack, paths)
    }

    /// A supervisor started for this command: its pid, the read end of its report
    /// pipe and its log.
    struct Launch {
        let pid: pid_t
        let reportFD: Int32
        let logPath: String
    }

    /// What `forkEarly` found and did, for `run`.
    private struct Early {
        let stack: StackSpec
        let paths: ProjectPaths
        let launch: Launch?
    }

    private var early: Early?

    /// Called from main while the process is still single-threaded: when the project
    /// is not running, forks the supervisor from this very process, which saves a
    /// second program start (loading, runtime set-up, argument parsing, reading the
    /// stack file) on the path to the first service. Returns the supervisor to run in
    /// the child, nil in the command (or when nothing was forked: `run` does it all).
    mutating func forkEarly() -> DetachedSupervisor? {
        guard let (stack, paths) = try? resolved() else { return nil }
        // Running already, or no pipe or log: run() attaches, or tries again and says why.
        guard ControlClient.connect(paths) == nil, !ProjectLock.isHeld(paths),
            let (pipe, logFD, logPath) = try? Self.openReportPipeAndLog(paths)
        else {
            early = Early(stack: stack, paths: paths, launch: nil)
            return nil
        }
        Trace.mark("up -d: forking the supervisor")
        let pid = ProcessSpawner.forkDetached(reportFD: pipe.write, logFD: logFD)
        if pid == 0 {
            return DetachedSupervisor(
                stack: stack, project: paths.project, services: services, profiles: global.profiles,
                timeout: timeout, keepOnFailure: keepOnFailure, watchFiles: watchFiles, watchSources: watchSources)
        }
        close(pipe.write)
        close(logFD)
        guard pid > 0 else {
            close(pipe.read)
            early = Early(stack: stack, paths: paths, launch: nil)
            return nil
        }
        early = Early(stack: stack, paths: paths, launch: Launch(pid: pid, reportFD: pipe.read, logPath: logPath))
        return nil
    }

    /// The arguments of `muster __supervise` for this stack and these options.
    private func supervisorArguments(stack: StackSpec, paths: ProjectPaths) -> [String] {
        var arguments =
            ["__supervise"] + stack.files.flatMap { ["-f", StackLoader.absolute($0)] } + [
                "-p", paths.project,
                "--timeout", DurationParser.format(timeout),
            ]
        if keepOnFailure { arguments.append("--keep-on-failure") }
        if !watchFiles { arguments.append("--no-watch") }
        if watchSources { arguments.append("--watch") }
        for profile in global.profiles.sorted() { arguments += ["--profile", profile] }
        return arguments + services
    }

    /// A supervisor that holds the lock but has not opened its socket yet is
    /// still starting: give it a moment rather than start a second one.
    private func waitForStartingSupervisor(_ paths: ProjectPaths) -> ControlClient? {
        guard ProjectLock.isHeld(paths) else { return nil }
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline, ProjectLock.isHeld(paths) {
            if let client = ControlClient.connect(paths) { return client }
            usleep(20_000)
        }
        return ControlClient.connect(paths)
    }

    /// The project already runs: start what is not running and wait for ready.
    func attach(_ client: ControlClient, paths: ProjectPaths) throws {
        var request = OperationRequest(services: services, timeoutMs: Int(timeout.milliseconds))
        request.profiles = global.profiles.sorted()
        let result = try client.perform("/v1/start", request, timeout: timeout + .seconds(30))
        try check(result)
        let ready = (result.services ?? []).filter(\.ready).count
        let started = (try? client.status()).flatMap { RFC3339.time($0.started) }
        for hint in TaskSuggestion.recorded(in: paths.eventsFile, since: started) {
            hintsTold.insert(hint.service)
            console.line(prefix + console.paint(TaskSuggestion.line(hint), .yellow))
        }
        console.line(prefix + "project \(paths.project) was already running; \(ready) services ready")
    }

    /// The supervisor's report pipe and its log (`.muster/PROJECT/supervisor.log`).
    private static func openReportPipeAndLog(_ paths: ProjectPaths) throws -> (
        pipe: (read: Int32, write: Int32), logFD: Int32, logPath: String
    ) {
        let pipe = try ProcessSpawner.makePipe()
        let logPath = paths.stateDir + "/supervisor.log"
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else {
            let reason = String(cString: strerror(errno))
            close(pipe.read); close(pipe.write)
            throw MusterError(.environment, "cannot write \(logPath): \(reason); check permissions and free space")
        }
        return (pipe, logFD, logPath)
    }

    /// Starts `muster __supervise` as a new program (when `forkEarly` could not fork).
    private func spawnSupervisor(stack: StackSpec, paths: ProjectPaths) async throws -> Launch {
        Trace.mark("up -d: spawning the supervisor")
        let (pipe, logFD, logPath) = try Self.openReportPipeAndLog(paths)
        let executable = ProcessSpawner.currentExecutable
        var request = SpawnRequest(
            executable: executable, arguments: [executable] + supervisorArguments(stack: stack, paths: paths),
            environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" },
            workingDirectory: FileManager.default.currentDirectoryPath)
        request.outputFD = logFD
        request.fd3 = pipe.write
        request.parentDeathSignal = 0
        defer { close(pipe.write); close(logFD) }
        do {
            return Launch(pid: try await ProcessSpawner.shared.spawn(request), reportFD: pipe.read, logPath: logPath)
        } catch {
            close(pipe.read)
            throw error
        }
    }

    /// Shows progress until the supervisor reports the stack ready or failed.
    private func awaitReady(_ launch: Launch, stack: StackSpec, paths: ProjectPaths) async throws {
        let (pid, logPath) = (launch.pid, launch.logPath)
        // Ctrl-C while waiting: the supervisor tears the stack down.
        let signals = SignalWatcher()
        Task {
            await signals.wait()
            kill(pid, SIGTERM)
        }
        // A live view on a terminal; plain lines otherwise.
        let view =
            console.isInteractive
            ? ProgressView(
                services: DependencyGraph(stack: stack).startOrder(
                    of: services.isEmpty
                        ? Set(stack.serviceNames)
                        : DependencyGraph(stack: stack).closure(of: services)),
                console: console)
            : nil
        view?.start()
        let result = await readReport(fd: launch.reportFD, view: view)
        Trace.mark("up -d: report read")
        view?.finish()
        close(launch.reportFD)
        guard let result else {
            let tail = FileTail.lastLines(of: logPath, count: 20)
            throw MusterError(
                .serviceFailed, "the supervisor (pid \(pid)) exited before the stack was ready; see \(logPath)",
                details: tail.map { "  " + $0 })
        }
        try check(result)
        for line in result.timeline ?? [] { console.line(prefix + line) }
        console.line(
            prefix
                + console.paint(
                    "project \(paths.project) is up: \((result.services ?? []).filter(\.ready).count) services ready (supervisor pid \(pid)); muster down stops it",
                    .boldGreen))
    }

    /// Prints progress lines as they come and returns the result, or nil when the
    /// pipe closed without one (the supervisor died).
    private func readReport(fd: Int32, view: ProgressView?) async -> OperationResult? {
        await withCheckedContinuation { continuation in
            let console = self.console
            let hintsTold = self.hintsTold
            Thread.detachNewThread {
                var buffer = Data()
                var result: OperationResult?
                var chunk = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let got = read(fd, &chunk, chunk.count)
                    if got < 0 && errno == EINTR { continue }
                    if got <= 0 { break }
                    buffer.append(contentsOf: chunk[0..<got])
                    while let newline = buffer.firstIndex(of: 10) {
                        let line = buffer[buffer.startIndex..<newline]
                        buffer = Data(buffer[buffer.index(after: newline)...])
                        guard let decoded = try? ControlJSON.decode(ReportLine.self, from: Data(line)) else { continue }
                        if decoded.type == .warning, let service = decoded.service,
                            decoded.progress?.hasSuffix(TaskSuggestion.advice) == true
                        {
                            hintsTold.insert(service)
                        }
                        if let view, decoded.type == .warning, let text = decoded.progress {
                            view.note(text)
                        } else if let view, let service = decoded.service, let type = decoded.type {
                            view.update(service: service, type: type)
                        } else if let text = decoded.progress {
                            console.line(text)
                        }
                        if let final = decoded.result { result = final }
                    }
                }
                continuation.resume(returning: result)
            }
        }
    }
}

/// The services whose `task: true` hint a command printed already.
/// Unchecked: its set is read and written under its lock.
final class HintsTold: @unchecked Sendable {
    private let lock = NSLock()
    private var services = Set<String>()

    func insert(_ service: String) {
        lock.lock()
        services.insert(service)
        lock.unlock()
    }

    func contains(_ service: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return services.contains(service)
    }
}
