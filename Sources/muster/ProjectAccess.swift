import ArgumentParser
import Foundation
import MusterKit

extension GlobalOptions {
    /// The stack file and where its project keeps things.
    func resolve() throws -> (StackSpec, ProjectPaths) {
        let stack = try loadStack()
        return (stack, paths(for: stack))
    }

    /// For commands on a running stack (ps, logs, down, stop, restart, start, events,
    /// watch, env, attach, db, and run when the stack runs): the supervisor holds the
    /// resolved stack, so the file is read only for the project's place and its service
    /// names, and a variable it uses that is not set here is a warning, not an error.
    func resolveRunning() throws -> (StackIdentity, ProjectPaths) {
        let identity = try StackLoader.identify(paths: files)
        for warning in identity.warnings { Output.warning(warning) }
        return (identity, try identity.paths(project: project))
    }

    /// A client for the running supervisor, or a "not running" error (exit 1).
    func runningClient(_ paths: ProjectPaths) throws -> ControlClient {
        guard let client = ControlClient.connect(paths) else {
            throw MusterError(.notRunning, "project \(paths.project) is not running; start it with muster up -d")
        }
        return client
    }

    /// Throws a usage error (exit 2) for a name that is not a service of the stack.
    func checkServices(_ names: [String], in stack: StackSpec) throws {
        try checkServices(names, known: stack.serviceNames, file: stack.file)
    }

    func checkServices(_ names: [String], in identity: StackIdentity) throws {
        try checkServices(names, known: identity.serviceNames, file: identity.file)
    }

    private func checkServices(_ names: [String], known: [String], file: String) throws {
        for name in names where !known.contains(name) {
            throw MusterError(
                .usage,
                "no service \"\(name)\" in \(file)\(Suggestion.hint(for: name, in: known)); services: \(known.joined(separator: ", "))"
            )
        }
    }
}

/// `--timeout 2m` and the like; a bad value is a usage error.
func parseDurationOption(_ text: String, option: String) throws -> Duration {
    switch DurationParser.parse(text) {
    case let .success(duration): return duration
    case let .failure(problem): throw MusterError(.usage, "\(option): \(problem.message)")
    }
}

/// Throws the error an operation result stands for.
func check(_ result: OperationResult) throws {
    if let error = result.musterError { throw error }
}

/// `--file` and `-p` for commands where `-f` means `--follow` (logs, events), as
/// in `docker compose logs -f`.
struct FollowingGlobalOptions: ParsableArguments {
    @Option(
        name: .customLong("file"), help: "Stack file (default: ./muster.yaml, then ./stacks/default.yaml); repeatable.")
    var files: [String] = []
    @Option(name: [.short, .customLong("project")], help: "Project name (default: the stack file's name).") var project:
        String?

    var global: GlobalOptions {
        get throws {
            try GlobalOptions.parse(files.flatMap { ["--file", $0] } + (project.map { ["--project", $0] } ?? []))
        }
    }
}
