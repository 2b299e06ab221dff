import ArgumentParser
import Dispatch
import Foundation
import MusterKit

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start services (and what they depend on) in dependency order.",
        discussion: """
            In the foreground, Ctrl-C or SIGTERM stops everything in reverse order and exits 0; a second Ctrl-C kills at once.
            With -d, a background supervisor keeps the stack running and up returns once every service is ready.
            On a terminal, the foreground up shows the interactive view (muster attach shows it for -d): the services \
            above their logs; j/k select, enter filters the logs, r restarts, s stops, S starts, q quits (stopping the stack). \
            Piped, with --no-tui, NO_COLOR or TERM=dumb, it prints the plain log stream instead.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.customShort("d"), .long], help: "Run in the background; return once everything is ready.")
    var detach = false
    @Option(help: "With -d: fail when not everything is ready by then (default 120s).") var timeout: String?
    @Flag(help: "With -d: leave what started running when something fails.") var keepOnFailure = false
    @Flag(help: "On a terminal: print the plain log stream instead of the interactive view.") var noTui = false
    @Flag(help: "Do not act on file changes (the services' watch: rules are ignored).") var noWatch = false
    @Flag(help: "Also restart every service without watch: rules when a source file under its working_dir changes.")
    var watch = false
    @Option(help: ArgumentHelp(CacheOption.help, valueName: "DIR")) var cache: String?
    @Argument(help: "Services to start (default: all).", completion: ServiceCompletion.kind) var services: [String] = []

    func validate() throws {
        if !detach, timeout != nil || keepOnFailure {
            throw ValidationError("--timeout and --keep-on-failure go with -d")
        }
        if watch, noWatch {
            throw ValidationError("--watch and --no-watch contradict each other; give one")
        }
        if detach, noTui {
            throw ValidationError("--no-tui goes with a foreground up (without -d): up -d shows no interactive view")
        }
    }

    /// What `up -d` does; nil for a foreground `up`.
    func detached() throws -> DetachedUp? {
        try CacheOption.apply(cache)  // before up -d forks its supervisor (Entry), which inherits it
        guard detach else { return nil }
        let limit = try parseDurationOption(timeout ?? "120s", option: "--timeout")
        var up = DetachedUp(global: global, services: services, timeout: limit, keepOnFailure: keepOnFailure)
        up.watchFiles = !noWatch
        up.watchSources = watch
        return up
    }

    func run() async throws {
        if let detached = try detached() {
            try await detached.run()
            return
        }
        if !noTui, InteractiveUp.applies {
            try await InteractiveUp(global: global, services: services, watchFiles: !noWatch, watchSources: watch).run()
            return
        }
        try await foreground()
    }

    private func foreground() async throws {
        let stack = try global.loadStack()
        let console = Console.standardOutput
        let prefix = console.paint("muster │ ", .bold)
        let session = try StackSession(
            stack: stack, project: global.project, services: services, profiles: global.profiles,
            options: .init(console: console))
        for note in session.recovered { Output.warning(note) }
        let host = StackHost(session: session)
        let signals = SignalWatcher()
        // A second signal, whenever it comes: kill everything at once.
        Task {
            await signals.wait(for: 2)
            console.line(prefix + "second signal: killing everything now")
            await session.supervisor.forceKill()
        }
        // The control socket opens while the services start.
        let opening = Task { try await host.open() }
        var result = await raceSignal(signals) { await host.start() }
        do {
            try await opening.value
        } catch {
            result = OperationResult(error as? MusterError ?? MusterError(.environment, "\(error)"))
        }
        if let result, !result.ok {
            await tearDown(host, console: console)
            try check(result)
        }
        if let result {
            for line in result.timeline ?? [] { console.line(prefix + line) }
            console.line(
                prefix + console.paint("all \(session.selected.count) services up; Ctrl-C to stop", .boldGreen))
            if !noWatch,
                let watch = await host.startWatching(simulatedLimit: WatchOptions.simulatedLimit, sourceFiles: watch)
            {
                console.line(
                    prefix + "watching files for " + watch.targets.map(\.service).joined(separator: ", ")
                        + " (--no-watch turns it off)")
            }
            // Until a signal, or `muster down` asking through the control socket.
            _ = await raceSignal(signals) { await host.waitUntilShutDown() }
        }
        // Something of the stack that would not go away is a failure, however the stop began.
        if await !tearDown(host, console: console) { throw ExitCode(1) }
    }

    @discardableResult
    func tearDown(_ host: StackHost, console: Console) async -> Bool {
        await Self.tearDownLines(host, console: console)
    }

    /// Stops the stack and says so; false when a process of it had to be killed or is still there.
    @discardableResult
    static func tearDownLines(_ host: StackHost, console: Console) async -> Bool {
        console.line(console.paint("muster │ ", .bold) + "stopping \(host.session.selected.count) services")
        let leftovers = await host.shutdown().leftovers ?? []
        await host.close()
        if leftovers.isEmpty {
            console.line(console.paint("muster │ ", .bold) + "all stopped; no process left")
        } else {
            Output.error(
                MusterError(
                    .serviceFailed, "not every process of the stack stopped cleanly: \(leftovers[0])",
                    details: leftovers.dropFirst().map { "  " + $0 }))
        }
        return leftovers.isEmpty
    }
}
