import ArgumentParser
import Foundation
import MusterKit

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract:
            "Print the event log: starts, readiness, exits, restarts (also those muster did not cause), availability, warnings."
    )

    @OptionGroup var files: FollowingGlobalOptions
    @Option(help: "Only events after TIME: RFC 3339 (2026-11-22T10:00:00Z) or a duration ago (10m).") var since: String?
    @Flag(name: [.short, .long], help: "Keep printing new events as they happen.") var follow = false
    @Flag(help: "One JSON object per line, as stored.") var json = false
    @Flag(help: "Exit 3 when any shown event is a restart, an exit or an unavailability.") var failOnRestart = false

    func run() async throws {
        let global = try files.global
        let (_, paths) = try global.resolveRunning()
        let cutoff = try since.map(Self.parseSince)
        var unclean = false
        let print: (String) -> Void = { line in
            guard let event = ServiceEvent.parse(line) else { return }
            if let cutoff, let date = event.date, date <= cutoff { return }
            if event.isDisruptive { unclean = true }
            Swift.print(json ? line : event.humanLine())
        }
        if follow, let client = ControlClient.connect(paths) {
            try EventStream.follow(client, since: 0, onLine: print)
        } else {
            guard FileManager.default.fileExists(atPath: paths.eventsFile) else {
                throw MusterError(.notRunning, "no events for project \(paths.project) yet; start it with muster up -d")
            }
            for line in FileTail.lastLines(of: paths.eventsFile, count: nil) { print(line) }
            if follow { throw MusterError(.notRunning, "project \(paths.project) is not running; nothing to follow") }
        }
        if failOnRestart && unclean { throw ExitCode(3) }
    }

    /// RFC 3339, or a duration meaning that long ago.
    static func parseSince(_ text: String) throws -> Date {
        if let date = RFC3339.time(text) { return date }
        if case let .success(duration) = DurationParser.parse(text) {
            return Date().addingTimeInterval(-Double(duration.milliseconds) / 1000)
        }
        throw MusterError(
            .usage, "--since \(text): not a time; use RFC 3339 (2026-11-22T10:00:00Z) or a duration ago (10m)")
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract:
            "Attach to the running stack and print health and restart events live, including restarts muster did not cause."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "One JSON object per line, as stored.") var json = false

    func run() async throws {
        let (_, paths) = try global.resolveRunning()
        let client = try global.runningClient(paths)
        if !json {
            let status = try client.status()
            let summary = status.services.map {
                "\($0.name) \($0.state)" + ($0.restarts > 0 ? " (\($0.restarts) restarts)" : "")
            }
            print("watching \(paths.project): " + summary.joined(separator: ", "))
            fflush(nil)  // before the stream blocks: a pipe or file would hold it back (nil: every stream)
        }
        try EventStream.follow(client, since: EventLog.lastSeq(in: paths.eventsFile)) { line in
            guard let event = ServiceEvent.parse(line) else { return }
            print(json ? line : event.humanLine())
        }
    }
}

/// Follows `/v1/events` line by line until the supervisor goes away.
enum EventStream {
    static func follow(_ client: ControlClient, since: Int, onLine: @escaping (String) -> Void) throws {
        var pending = Data()
        _ = try client.stream("GET", "/v1/events?since=\(since)&follow=true", timeout: .seconds(86_400 * 365)) { data in
            pending.append(data)
            while let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                onLine(line)
                fflush(nil)
            }
            return true
        }
    }
}
