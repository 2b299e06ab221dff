import Foundation

/// What happened to the stack while `muster run`'s command ran (SPEC "The run
/// report"). Built from the events of the window alone, so it is a pure function
/// of them and testable without processes.
public struct RunReport: Codable, Sendable {
    public struct ServiceSummary: Codable, Sendable, Equatable {
        public var restarts: Int
        public var restartDetected: Int
        public var unavailableMs: Int
        public var events: [EventRecord]
    }

    public var command: [String]
    public var started: String
    public var ended: String
    public var exitCode: Int32
    public var services: [String: ServiceSummary]
    public var clean: Bool

    /// - Parameters:
    ///   - services: every service of the stack, so quiet ones appear with zeros.
    ///   - events: the events recorded while the command ran.
    public init(command: [String], started: Date, ended: Date, exitCode: Int32, services: [String], events: [EventRecord]) {
        self.command = command
        self.started = EventLog.timestamp(started)
        self.ended = EventLog.timestamp(ended)
        self.exitCode = exitCode
        var summaries: [String: ServiceSummary] = [:]
        for name in Set(services).union(events.map(\.service)) {
            let own = events.filter { $0.service == name }.sorted { $0.seq < $1.seq }
            summaries[name] = ServiceSummary(
                restarts: own.filter { $0.type == "restarted" }.count,
                restartDetected: own.filter { $0.type == "restart_detected" }.count,
                unavailableMs: Self.downtime(own, until: ended),
                events: own)
        }
        self.services = summaries
        clean = !events.contains { $0.isDisruptive }
    }

    /// Milliseconds the service was down or unavailable inside the window: from
    /// `exited`/`failed`/`stopping`/`unavailable` to the next `ready`/`available`
    /// (or the end of the window).
    static func downtime(_ events: [EventRecord], until end: Date) -> Int {
        var total = 0.0
        var since: Date?
        for event in events {
            guard let date = event.date else { continue }
            switch event.type {
            case "exited", "failed", "stopping", "unavailable":
                if since == nil { since = date }
            case "ready", "available":
                if let start = since { total += date.timeIntervalSince(start); since = nil }
            default: break
            }
        }
        if let start = since { total += max(0, end.timeIntervalSince(start)) }
        return Int((total * 1000).rounded())
    }

    /// Services that were not continuously up, with a line saying why.
    public var findings: [(service: String, text: String)] {
        services.keys.sorted().compactMap { name in
            let summary = services[name]!
            let disruptive = summary.events.filter(\.isDisruptive)
            guard !disruptive.isEmpty else { return nil }
            var parts: [String] = []
            if summary.restarts > 0 { parts.append("restarted \(summary.restarts)×") }
            if summary.restartDetected > 0 { parts.append("restarted without muster \(summary.restartDetected)×") }
            if summary.unavailableMs > 0 { parts.append("down or unavailable for \(summary.unavailableMs)ms") }
            if parts.isEmpty { parts.append(disruptive.map(\.type).joined(separator: ", ")) }
            let why = disruptive.first { $0.reason != nil }?.reason.map { " (\($0))" } ?? ""
            return (name, parts.joined(separator: ", ") + why)
        }
    }

    public var json: Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}
