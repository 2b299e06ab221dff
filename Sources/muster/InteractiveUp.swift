import ArgumentParser
import Foundation
import MusterKit

/// Foreground `muster up` on a terminal: the same session as the plain one, but
/// with nothing mirrored to the console; the interactive view shows the services
/// and their logs through the control socket instead. `q`, Ctrl-C, SIGTERM or
/// `muster down` tear the stack down exactly as in the plain foreground `up`.
struct InteractiveUp {
    let global: GlobalOptions
    let services: [String]
    var watchFiles = true
    var watchSources = false

    /// A terminal on both ends (keys in, view out), colour allowed and a capable TERM.
    static var applies: Bool {
        let env = ProcessInfo.processInfo.environment
        return Console.standardOutput.isInteractive && isatty(STDIN_FILENO) == 1 && env["NO_COLOR"] == nil
            && env["TERM"] != "dumb"
    }

    enum Ending: Sendable { case viewEnded, signal, shutDown, failed(OperationResult) }

    func run() async throws {
        let stack = try global.loadStack()
        let console = Console.standardOutput
        let session = try StackSession(
            stack: stack, project: global.project, services: services, profiles: global.profiles,
            options: .init(console: nil, statusLines: false, mirrorOutput: false))
        for note in session.recovered { Output.warning(note) }
        let host = StackHost(session: session)
        let signals = SignalWatcher()
        Task {
            await signals.wait(for: 2)
            await session.supervisor.forceKill()
        }
        do {
            try await host.open()
        } catch {
            await Up.tearDownLines(host, console: console)
            throw error as? MusterError ?? MusterError(.environment, "\(error)")
        }
        let model = ViewModel(
            client: ControlClient(socketPath: session.paths.controlSocket), project: session.paths.project,
            mode: .foreground)
        let view = InteractiveView(model: model)
        view.begin(eventsSince: EventLog.lastSeq(in: session.paths.eventsFile))
        let count = session.selected.count
        let ending: Ending = await firstOf([
            { @Sendable in
                _ = await view.waitForExit(); return .viewEnded
            },
            { @Sendable in
                await signals.wait(); return .signal
            },
            { @Sendable in
                let result = await host.start()
                guard result.ok else { return .failed(result) }
                model.say("all \(count) services up; q or Ctrl-C stops them")
                if watchFiles {
                    await host.startWatching(simulatedLimit: WatchOptions.simulatedLimit, sourceFiles: watchSources)
                }
                await host.waitUntilShutDown()
                return .shutDown
            },
        ])
        await view.end()
        let clean = await Up.tearDownLines(host, console: console)
        if case let .failed(result) = ending { try check(result) }
        if !clean { throw ExitCode(1) }
    }
}

/// The first of `bodies` to finish; the others run on, unheard.
func firstOf<T: Sendable>(_ bodies: [@Sendable () async -> T]) async -> T {
    await withCheckedContinuation { continuation in
        let once = ResumeOnce<T>(continuation)
        for body in bodies { Task { once.resume(await body()) } }
    }
}
