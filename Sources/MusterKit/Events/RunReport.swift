import Foundation

/// What happened to the stack while `muster run`'s command ran (SPEC "The run
/// report"). Built from the events of the window alone, so it is a pure function
/// of them and testable without processes.
public struct RunReport: Codable, Sendable {
    public struct ServiceSummary: Codable, Sendable, Equatable {
        public var restarts: Int
        public var restartDetected: Int
        public var unavailableMs: Int
        public var events: [ServiceEvent]
        /// Ids of the tests this service's disruptions overlapped (absent in reports written before tests were read).
        public var tests: [String]?

        public init(
            restarts: Int, restartDetected: Int, unavailableMs: Int, events: [ServiceEvent], tests: [String]? = []
        ) {
            self.restarts = restarts
            self.restartDetected = restartDetected
            self.unavailableMs = unavailableMs
            self.events = events
            self.tests = tests
        }
    }

    public var command: [String]
    public var started: String
    public var ended: String
    public var exitCode: Int32
    public var services: [String: ServiceSummary]
    public var clean: Bool
    /// The disruptions that overlapped the window (`Disruption`), by `seq`.
    public var disruptions: [Disruption]?
    /// The tests CMD ran, each with the disruptions it overlapped.
    public var tests: [TestRecord]?
    /// Connection pressure of each Postgres service while CMD ran.
    public var postgres: [String: PostgresPressure]?
    /// The muster that wrote it (`muster report --merge` joins reports of one version only).
    public var musterVersion: String?
    /// Which shard of a suite split across machines this run was (`muster run --shard`).
    public var shard: String?
    /// The machine it ran on.
    public var host: String?

    /// - Parameters:
    ///   - services: every service of the stack, so quiet ones appear with zeros.
    ///   - events: the events recorded while the command ran.
    ///   - disruptions: those overlapping the window, computed from the whole
    ///     event log (one that began before the window counts); nil: from `events`.
    ///   - tests: the tests CMD ran; they are attributed here.
    public init(
        command: [String], started: Date, ended: Date, exitCode: Int32, services: [String], events: [ServiceEvent],
        disruptions: [Disruption]? = nil, tests: [TestRecord] = [], postgres: [String: PostgresPressure]? = nil
    ) {
        self.command = command
        self.started = EventLog.timestamp(started)
        self.ended = EventLog.timestamp(ended)
        self.exitCode = exitCode
        let window = disruptions ?? Disruption.overlapping(events, from: started, to: ended)
        let attribution = TestAttribution.attribute(tests, to: window)
        var summaries: [String: ServiceSummary] = [:]
        for name in Set(services).union(events.map(\.service)) {
            let own = events.filter { $0.service == name }.sorted { $0.seq < $1.seq }
            summaries[name] = ServiceSummary(
                restarts: own.filter { $0.type == .restarted }.count,
                restartDetected: own.filter { $0.type == .restartDetected }.count,
                unavailableMs: Self.downtime(own, until: ended),
                events: own,
                tests: attribution.testsByService[name] ?? [])
        }
        self.services = summaries
        clean = !events.contains { $0.isDisruptive }
        self.disruptions = window
        self.tests = attribution.tests
        self.postgres = postgres
        musterVersion = BuildInfo.version
    }

    /// Milliseconds the service was down or unavailable inside the window: its
    /// disruptions (`Disruption`) among these events, but not the instants of
    /// `restart_detected`, each until its end or the end of the window.
    static func downtime(_ events: [ServiceEvent], until end: Date) -> Int {
        let until = end.timeIntervalSince1970
        let total = Disruption.from(events).filter { $0.kind != .restartDetected }.reduce(0.0) {
            $0 + $1.seconds(until: until)
        }
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
            if parts.isEmpty { parts.append(disruptive.map(\.type.rawValue).joined(separator: ", ")) }
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
