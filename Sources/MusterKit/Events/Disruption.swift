import Foundation

/// A time when a service was not continuously up, derived from events.jsonl.
/// This is the one definition muster has (the run report, `GET /v1/disruptions`
/// and the test attribution all use `Disruption.from`), so a test is never
/// blamed on a restart by one reader and cleared by another.
///
/// A disruption begins at `exited`, `restarted`, `failed`, `stopping` or
/// `unavailable` when none is open for the service, and ends at the service's
/// next `ready`, `available` or `completed`, or stays open (`end == nil`). A
/// `restart_detected` is one of its own covering `[since, time]` (just `time`
/// when the event has no `since`).
public struct Disruption: Codable, Sendable, Equatable {
    /// The `seq` of the event that began it: the id tests refer to.
    public var seq: Int
    public var service: String
    /// `restarted` when a `restarted` event falls inside it, else the beginning event's type.
    public var kind: EventKind
    public var start: String
    /// nil while open (the service has not come back).
    public var end: String?
    public var reason: String?
    /// The last lines of the incarnation that ended (empty when none were recorded).
    public var logTail: [String]

    /// Seconds since 1970, for comparisons without parsing again.
    public var startSeconds: Double
    /// +infinity while open.
    public var endSeconds: Double

    public init(
        seq: Int, service: String, kind: EventKind, start: String, end: String?, reason: String? = nil,
        logTail: [String]? = nil
    ) {
        self.seq = seq
        self.service = service
        self.kind = kind
        self.start = start
        self.end = end
        self.reason = reason
        self.logTail = logTail ?? []
        startSeconds = RFC3339.seconds(start) ?? 0
        endSeconds = end.flatMap { RFC3339.seconds($0) } ?? .infinity
    }

    /// Every disruption in `events` (any order; they are taken in `seq` order),
    /// sorted by `seq`.
    public static func from(_ events: [ServiceEvent]) -> [Disruption] {
        var result: [Disruption] = []
        var open: [String: Int] = [:]
        for event in events.sorted(by: { $0.seq < $1.seq }) {
            guard let seconds = RFC3339.seconds(event.time) else { continue }
            if event.type == .restartDetected {
                let since = event.since.flatMap { RFC3339.seconds($0) }.map { min($0, seconds) }
                var disruption = Disruption(
                    seq: event.seq, service: event.service, kind: .restartDetected,
                    start: since != nil ? event.since! : event.time, end: event.time,
                    reason: event.reason, logTail: event.logTail)
                disruption.startSeconds = since ?? seconds
                disruption.endSeconds = seconds
                result.append(disruption)
            } else if event.type.beginsDisruption {
                if let index = open[event.service] {
                    if event.type == .restarted { result[index].kind = .restarted }
                    if result[index].reason == nil { result[index].reason = event.reason }
                    if result[index].logTail.isEmpty, !event.logTail.isEmpty { result[index].logTail = event.logTail }
                } else {
                    var disruption = Disruption(
                        seq: event.seq, service: event.service, kind: event.type, start: event.time, end: nil,
                        reason: event.reason, logTail: event.logTail)
                    disruption.startSeconds = seconds
                    open[event.service] = result.count
                    result.append(disruption)
                }
            } else if event.type.endsDisruption, let index = open.removeValue(forKey: event.service) {
                result[index].end = event.time
                result[index].endSeconds = max(seconds, result[index].startSeconds)
            }
        }
        return result.sorted { $0.seq < $1.seq }
    }

    /// Whether it intersects `[from, to]` (seconds since 1970; nil is unbounded).
    public func overlaps(from: Double?, to: Double?) -> Bool {
        startSeconds <= (to ?? .infinity) && endSeconds >= (from ?? -.infinity)
    }

    /// The disruptions of `events` that intersect `[from, to]`.
    public static func overlapping(_ events: [ServiceEvent], from: Date?, to: Date?) -> [Disruption] {
        let low = from?.timeIntervalSince1970
        let high = to?.timeIntervalSince1970
        return Self.from(events).filter { $0.overlaps(from: low, to: high) }
    }

    /// Seconds it lasted inside a window ending at `until` (open ones last until then).
    public func seconds(until: Double) -> Double {
        max(0, min(endSeconds, until) - startSeconds)
    }

    /// `restart`, `exit`, ... for sentences like "overlapped a restart of notifier".
    public var noun: String { kind.noun }

    enum CodingKeys: String, CodingKey {
        case seq, service, kind, start, end, reason, logTail
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            seq: try container.decode(Int.self, forKey: .seq),
            service: try container.decode(String.self, forKey: .service),
            kind: try container.decode(EventKind.self, forKey: .kind),
            start: try container.decode(String.self, forKey: .start),
            end: try container.decodeIfPresent(String.self, forKey: .end),
            reason: try container.decodeIfPresent(String.self, forKey: .reason),
            logTail: try container.decodeIfPresent([String].self, forKey: .logTail))
    }

    /// Every key is always written (`end` and `reason` as null when absent), so readers need not guess.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(service, forKey: .service)
        try container.encode(kind, forKey: .kind)
        try container.encode(start, forKey: .start)
        try container.encode(end, forKey: .end)
        try container.encode(reason, forKey: .reason)
        try container.encode(logTail, forKey: .logTail)
    }
}

/// `GET /v1/disruptions`: the disruptions overlapping the asked window.
public struct DisruptionsReport: Codable, Sendable {
    public var disruptions: [Disruption]

    public init(disruptions: [Disruption]) {
        self.disruptions = disruptions
    }
}
