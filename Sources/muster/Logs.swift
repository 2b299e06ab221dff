import ArgumentParser
import Foundation
import MusterKit

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the stored output of services (all when none named).")

    @OptionGroup var files: FollowingGlobalOptions
    @Flag(name: [.short, .long], help: "Keep printing new lines as they come.") var follow = false
    @Option(name: .long, help: "Only the last N lines of each service.") var tail: Int?
    @Argument(help: "Services (default: all).", completion: ServiceCompletion.kind) var services: [String] = []

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail must be 0 or more") }
    }

    func run() async throws {
        let global = try files.global
        let (stack, paths) = try global.resolveRunning()
        try global.checkServices(services, in: stack)
        let names = services.isEmpty ? stack.serviceNames : services
        if let client = ControlClient.connect(paths) {
            var query = names.map { "service=\($0)" }
            if let tail { query.append("tail=\(tail)") }
            if follow { query.append("follow=true") }
            let out = FileHandle.standardOutput
            let status = try client.stream(
                "GET", "/v1/logs?" + query.joined(separator: "&"), timeout: .seconds(86_400 * 365)
            ) { data in
                out.write(data)
                return true
            }
            if status != 200 { throw MusterError(.usage, "the supervisor refused the logs request (HTTP \(status))") }
            return
        }
        // Not running: the files are still there (down keeps logs).
        let existing = names.filter { FileManager.default.fileExists(atPath: paths.logFile(for: $0)) }
        guard !existing.isEmpty else {
            throw MusterError(
                .notRunning,
                "no logs for project \(paths.project): it has not run from \(stack.directory); start it with muster up -d"
            )
        }
        Output.note("project \(paths.project) is not running; these are its stored logs")
        let width = existing.map(\.count).max() ?? 0
        for name in existing {
            let label = existing.count > 1 ? name.padding(toLength: width, withPad: " ", startingAt: 0) + " │ " : ""
            for line in FileTail.snapshot(ofFiles: LogFiles.all(paths.logFile(for: name)), count: tail).lines {
                print(label + line)
            }
        }
    }
}
