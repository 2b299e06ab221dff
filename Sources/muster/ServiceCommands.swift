import ArgumentParser
import Foundation
import MusterKit

/// `restart`, `stop` and `start`: one request to the running supervisor each.
/// See `Supervisor+Operations` for how dependents are treated.
protocol ServiceCommand: AsyncParsableCommand {
    var global: GlobalOptions { get }
    var services: [String] { get }
    var timeout: String? { get }
    static var action: ControlAction { get }
    var noDeps: Bool { get }
}

extension ServiceCommand {
    func run() async throws {
        let (stack, paths) = try global.resolveRunning()
        try global.checkServices(services, in: stack)
        let client = try global.runningClient(paths)
        let limit = try parseDurationOption(timeout ?? "120s", option: "--timeout")
        let listed: [ServiceStatus] = (try? client.status().services) ?? []
        let before = Dictionary(uniqueKeysWithValues: listed.map { ($0.name, $0) })
        let request = OperationRequest(
            services: services, timeoutMs: Int(limit.milliseconds), noDeps: noDeps ? true : nil)
        let result = try client.perform("/v1/" + Self.action.rawValue, request, timeout: limit + .seconds(30))
        try check(result)
        let now: [ServiceStatus] = result.services ?? []
        let after = Dictionary(uniqueKeysWithValues: now.map { ($0.name, $0) })
        let out = Console.standardOutput
        let prefix = out.paint("muster │ ", .bold)
        for name in services + (result.affected ?? []) {
            let was = before[name]?.pid.map { "pid \($0)" } ?? "not running"
            let state = after[name]?.state ?? "?"
            let current = after[name]?.pid.map { "pid \($0), \(state)" } ?? state
            let why = services.contains(name) ? "" : " (depends on \(services.joined(separator: ", ")))"
            out.line(prefix + "\(name): \(was) → \(current)\(why)")
        }
    }
}

struct Restart: ServiceCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart services of the running stack; what depends on them restarts after them.",
        discussion:
            "Running services that depend on a restarted one are stopped first and started again once it is ready; completed tasks do not run again. --no-deps restarts only the named services."
    )
    static let action = ControlAction.restart
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Leave the services that depend on these alone.") var noDeps = false
    @Option(help: "Fail when not ready again by then (default 120s).") var timeout: String?
    @Argument(help: "Services to restart.", completion: ServiceCompletion.kind) var services: [String]
}

struct Stop: ServiceCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop services of the running stack, and first whatever depends on them.")
    static let action = ControlAction.stop
    @OptionGroup var global: GlobalOptions
    var noDeps: Bool { false }
    @Option(help: "Give up after this long (default 120s).") var timeout: String?
    @Argument(help: "Services to stop.", completion: ServiceCompletion.kind) var services: [String]
}

struct Start: ServiceCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start services of the running stack, with whatever they depend on that is not running.")
    static let action = ControlAction.start
    @OptionGroup var global: GlobalOptions
    var noDeps: Bool { false }
    @Option(help: "Fail when not ready by then (default 120s).") var timeout: String?
    @Argument(help: "Services to start.", completion: ServiceCompletion.kind) var services: [String]
}
