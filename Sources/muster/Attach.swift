import ArgumentParser
import Foundation
import MusterKit

/// `muster attach`: the interactive view of a stack started with `up -d`. `q`
/// detaches and leaves the stack running; `muster down` stops it.
struct Attach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract:
            "Show the interactive view of a running stack (up -d): its services above their logs, with keys to restart, stop and start them.",
        discussion:
            "j/k or the arrows select a service, enter shows only its logs (again: all), r restarts it, s stops it, S starts it; q or Ctrl-C detaches and leaves the stack running (muster down stops it). Needs a terminal: piped, use muster ps, muster logs -f or muster watch."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let (_, paths) = try global.resolveRunning()
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw MusterError(
                .usage,
                "muster attach needs a terminal on stdin and stdout; piped, use muster ps, muster logs -f or muster watch"
            )
        }
        if ProcessInfo.processInfo.environment["TERM"] == "dumb" {
            throw MusterError(
                .usage,
                "muster attach cannot draw on TERM=dumb; set TERM (e.g. xterm), or use muster logs -f or muster watch")
        }
        let client = try global.runningClient(paths)
        let model = ViewModel(client: client, project: paths.project, mode: .attached)
        let view = InteractiveView(model: model)
        let signals = SignalWatcher()
        view.begin(eventsSince: EventLog.lastSeq(in: paths.eventsFile))
        model.say("attached to \(paths.project); q detaches and leaves it running, muster down stops it")
        let ending = await firstOf([
            { @Sendable in await view.waitForExit() },
            { @Sendable in
                await signals.wait(); return InteractiveView.Ending.asked
            },
        ])
        await view.end()
        let out = Console.standardOutput
        let prefix = out.paint("muster │ ", .bold)
        if ending == .supervisorGone {
            out.line(prefix + "project \(paths.project) stopped")
        } else {
            out.line(prefix + "detached; project \(paths.project) keeps running (muster down stops it)")
        }
    }
}
