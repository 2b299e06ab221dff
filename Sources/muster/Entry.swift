import ArgumentParser
import Foundation
import MusterKit

/// Parses the command line, then runs the command on the async runtime.
@main
enum Entry {
    /// Synchronous on purpose: until the async runtime starts, the process has one
    /// thread, so `up -d` can fork its supervisor instead of starting a new program.
    static func main() {
        Trace.start()
        signal(SIGPIPE, SIG_IGN)
        let work: () async throws -> Void
        do {
            var command = try Muster.parseAsRoot()
            if let up = command as? Up, var detached = try up.detached() {
                if let supervisor = detached.forkEarly() {
                    // The forked supervisor: stdout and stderr are its log, fd 3 the report pipe.
                    work = { try await supervisor.serve(report: ReportPipe(fd: 3)) }
                } else {
                    let command = detached
                    work = { try await command.run() }
                }
            } else if let asyncCommand = command as? AsyncParsableCommand {
                let handover = CommandHandover(asyncCommand)
                work = { try await handover.run() }
            } else {
                work = { try command.run() }
            }
        } catch {
            fail(error)
        }
        Task {
            do {
                try await work()
                exit(0)
            } catch {
                fail(error)
            }
        }
        dispatchMain()
    }

    /// Maps every failure to SPEC's exit codes: 2 for usage and invalid stacks
    /// (ArgumentParser would say 64), 1 for service failures.
    static func fail(_ error: Error) -> Never {
        switch error {
        case let error as MusterError:
            Output.error(error)
            exit(error.exitCode)
        case let code as ExitCode:
            exit(code.rawValue)
        default:
            let message = Muster.fullMessage(for: error)
            if Muster.exitCode(for: error) == .success {
                print(message)
                exit(0)
            }
            FileHandle.standardError.write(Data((message + "\n").utf8))
            exit(2)
        }
    }
}

struct Muster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muster",
        abstract:
            "Boot a whole development stack as native processes, wait until it is really ready, and tear it down leaving nothing behind.",
        discussion: """
            Examples:
              muster up                      start stacks/default.yaml (or ./muster.yaml) in the foreground
              muster up api                  start api and what it depends on
              muster up -d                   start in the background; returns once all are ready
              muster attach                  the live view of a stack started with up -d (q detaches)
              muster ps                      state, pid, restarts and ports of every service
              muster logs -f --tail 20 api   follow a service's output
              muster restart db              restart db, then what depends on it
              muster run --fail-on-restart --report r.json -- pytest
                                             run tests against the ready stack; exit 3 if a service restarted
              muster report --html r.html r.json
                                             draw a saved run report as one HTML page
              muster watch                   live health and restart events, including restarts muster did not cause
              muster down                    stop everything; check no process or port is left
              muster check -f stack.yaml     validate a stack file
              muster doctor                  can the stack start here? servers found, ports, user, kernel
              muster config --json           the resolved stack, secrets masked
              muster env --format dotenv     connection variables of the running stack
            """,
        version: BuildInfo.line,
        subcommands: [
            Up.self, Down.self, Ps.self, Logs.self, Restart.self, Stop.self, Start.self,
            Run.self, Events.self, Watch.self, EnvCommand.self, ConfigCommand.self, Check.self, Completion.self,
            Supervise.self,
            Import.self, Export.self, Report.self, Doctor.self, DatabaseCommand.self, Attach.self,
        ]
    )
}

/// `-f`, `-p` and `-v`, shared by every subcommand.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("file")],
        help: "Stack file (default: ./muster.yaml, then ./stacks/default.yaml); repeat to merge overrides in order.")
    var files: [String] = []

    /// The first stack file named, if any.
    var file: String? { files.first }

    @Option(name: [.short, .customLong("project")], help: "Project name (default: the stack file's name).")
    var project: String?

    @Flag(name: [.short, .long], help: "Also print the supervisor's own log lines.")
    var verbose = false

    @Option(
        name: .customLong("profile"), help: "Enable services of this profile (repeatable; also MUSTER_PROFILES=a,b).")
    var profileOptions: [String] = []

    /// `--profile` values and `MUSTER_PROFILES`, as compose does with COMPOSE_PROFILES.
    var profiles: Set<String> {
        let fromEnvironment = (ProcessInfo.processInfo.environment["MUSTER_PROFILES"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return Set(profileOptions + fromEnvironment)
    }

    func loadStack() throws -> StackSpec {
        let stack = try StackLoader.load(paths: files.isEmpty ? [StackLoader.defaultPath()] : files)
        for warning in stack.warnings { Output.warning(warning) }
        return stack
    }

    func paths(for stack: StackSpec) -> ProjectPaths {
        ProjectPaths(stack: stack, project: project)
    }
}

enum Output {
    static let stderr = Console.standardError

    static func error(_ error: MusterError) {
        stderr.line(stderr.paint("error: ", .boldRed) + error.headline)
        for line in error.details { stderr.line(line) }
    }

    static func note(_ text: String) {
        stderr.line(stderr.paint("note: ", .dim) + text)
    }

    static func warning(_ text: String) {
        stderr.line(stderr.paint("warning: ", .yellow) + text)
    }
}

/// Moves the parsed command from the synchronous start to the one task that runs it.
/// Unchecked: after the hand-over only that task touches the command.
final class CommandHandover: @unchecked Sendable {
    private var command: AsyncParsableCommand
    init(_ command: AsyncParsableCommand) { self.command = command }
    func run() async throws { try await command.run() }
}
