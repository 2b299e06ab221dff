import ArgumentParser
import Foundation
import MusterKit

/// The detached supervisor behind `muster up -d` (hidden). Its stdout and stderr
/// go to `.muster/PROJECT/supervisor.log`; fd 3, when open, is the report pipe to
/// the `up -d` that started it: progress lines, then one result line.
struct Supervise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__supervise", abstract: "Run the detached supervisor (used by up -d).", shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Give up when not all ready by then.") var timeout: String?
    @Flag(help: "Keep what started when something fails.") var keepOnFailure = false
    @Flag(help: "Do not act on file changes.") var noWatch = false
    @Flag(help: "Also watch every service's source files.") var watch = false
    @Argument var services: [String] = []

    func run() async throws {
        let report = ReportPipe(fd: 3)
        let stack: StackSpec
        let limit: Duration?
        do {
            stack = try global.loadStack()
            limit = try timeout.map { try parseDurationOption($0, option: "--timeout") }
        } catch {
            report.finish(OperationResult(error as? MusterError ?? MusterError(.environment, "\(error)")))
            throw ExitCode(error is MusterError ? (error as! MusterError).exitCode : 1)
        }
        try await DetachedSupervisor(
            stack: stack, project: global.project, services: services, profiles: global.profiles,
            timeout: limit, keepOnFailure: keepOnFailure, watchFiles: !noWatch, watchSources: watch
        ).serve(report: report)
    }
}

/// What the detached supervisor does, whether `up -d` forked it (with the stack it
/// had already loaded) or it was started as `muster __supervise`.
struct DetachedSupervisor {
    let stack: StackSpec
    let project: String?
    let services: [String]
    let profiles: Set<String>
    let timeout: Duration?
    let keepOnFailure: Bool
    var watchFiles = true
    var watchSources = false

    func serve(report: ReportPipe) async throws {
        let signals = SignalWatcher()
        let launcher = getppid()  // the `up -d` that waits for the report
        let host: StackHost
        do {
            Trace.mark("supervisor: main")
            await StackHost.backgroundWorkAwaitsReport()
            let session = try StackSession(
                stack: stack, project: project, services: services, profiles: profiles,
                options: .init(
                    console: Console(fd: STDOUT_FILENO, interactive: false), statusLines: true, mirrorOutput: false))
            for note in session.recovered { report.progress("warning: " + note) }
            host = StackHost(session: session)
            Trace.mark("supervisor: session planned")
        } catch {
            report.finish(OperationResult(error as? MusterError ?? MusterError(.environment, "\(error)")))
            throw ExitCode(error is MusterError ? (error as! MusterError).exitCode : 1)
        }
        await host.session.supervisor.onEvent { event in
            report.send(
                ReportLine(
                    progress: StatusLine.format(event, snapshot: nil, console: Console(fd: -1, interactive: false)),
                    service: event.service, type: event.type))
        }
        // The control socket opens while the services start: nothing waits on it.
        let opening = Task { try await host.open() }
        var result = await raceSignal(signals) { await host.start(timeout: timeout) }
        Trace.mark("supervisor: started")
        do {
            try await opening.value
        } catch {
            result = OperationResult(error as? MusterError ?? MusterError(.environment, "\(error)"))
        }
        Trace.mark("supervisor: control socket open")
        if let result, result.ok || keepOnFailure {
            if watchFiles,
                let watch = await host.startWatching(
                    simulatedLimit: WatchOptions.simulatedLimit, sourceFiles: watchSources)
            {
                report.progress(
                    "watching files for " + watch.targets.map(\.service).joined(separator: ", ")
                        + " (up -d --no-watch turns it off)")
            }
            report.finish(result)
            Trace.mark("supervisor: reported")
            // The spare copies and the cache's pruning wait until `up -d` has exited too
            // (at most a second): on 2 cores they made its last steps 10 ms slower.
            Task {
                if launcher > 1 { _ = await offload { ProcessTable.waitForExit(launcher, within: .seconds(1)) } }
                await StackHost.reported()
            }
            Task {
                await signals.wait(); _ = await host.shutdown()
            }
            await host.waitUntilShutDown()
        } else {
            _ = await host.shutdown()
            report.finish(result ?? OperationResult(MusterError(.serviceFailed, "interrupted while starting")))
            await StackHost.reported()
        }
        Trace.mark("supervisor: shut down")
        await host.close()
        Trace.mark("supervisor: control socket closed")
        report.close()
    }
}

/// Runs `body` until it returns or a signal arrives (then nil).
func raceSignal<T: Sendable>(_ signals: SignalWatcher, _ body: @escaping @Sendable () async -> T) async -> T? {
    await withCheckedContinuation { continuation in
        let once = ResumeOnce<T?>(continuation)
        Task { once.resume(await body()) }
        Task {
            await signals.wait(); once.resume(nil)
        }
    }
}

/// The detached supervisor's side of the report pipe: JSON lines.
/// Unchecked: each report is written under its lock.
final class ReportPipe: @unchecked Sendable {
    private var fd: Int32
    private let lock = NSLock()

    init(fd: Int32) {
        self.fd = fcntl(fd, F_GETFD) >= 0 ? fd : -1
        if self.fd >= 0 { _ = fcntl(self.fd, F_SETFD, FD_CLOEXEC) }
    }

    func progress(_ text: String) { send(ReportLine(progress: text)) }

    func finish(_ result: OperationResult) {
        send(ReportLine(result: result))
        close()
    }

    func send(_ line: ReportLine) { send(ControlJSON.encode(line)) }

    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 { POSIX.close(fd); fd = -1 }
    }

    private func send(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        guard fd >= 0 else { return }
        let line = data + Data("\n".utf8)
        let ok = line.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 { if errno == EINTR { continue }; return false }
                offset += written
            }
            return true
        }
        if !ok { POSIX.close(fd); fd = -1 }  // the up -d went away: carry on without it
    }
}

/// One line on the report pipe: a progress line (with the event behind it, for
/// the live view), or the final result.
struct ReportLine: Codable {
    var progress: String?
    var service: String?
    var type: EventKind?
    var result: OperationResult?

    init(progress: String? = nil, service: String? = nil, type: EventKind? = nil, result: OperationResult? = nil) {
        self.progress = progress
        self.service = service
        self.type = type
        self.result = result
    }
}
