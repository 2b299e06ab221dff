import Foundation

/// Something that happened to a service: the one value the lifecycle emits, the
/// supervisor records, `events.jsonl` holds one line of (`line`), `GET /v1/events`
/// serves, `muster events --json` prints and every reader reads back (`parse`). Its
/// kind is `type`, an `EventKind`.
///
/// Times are kept as written (RFC 3339 UTC with microseconds) so a line read back is
/// written again byte for byte; `date` parses.
public struct ServiceEvent: Codable, Sendable, Equatable {
    /// Its number in the project's event log, without gaps; 0 until `EventLog.append` numbers it.
    public var seq: Int
    /// When it happened; empty until the runner stamps what the lifecycle emitted.
    public var time: String
    /// The service's name; empty until the runner names what the lifecycle emitted.
    public var service: String
    public var type: EventKind
    public var pid: Int32?
    /// `restarted` only: the pid of the incarnation it replaced.
    public var previousPid: Int32?
    public var restarts: Int
    public var reason: String?
    /// `restart_detected` only: the time of the last check that still saw the old
    /// identity, so the restart happened in `[since, time]`.
    public var since: String?
    /// `available` only: how long it was unavailable.
    public var durationMs: Int?
    /// The last lines of the incarnation that ended (`exited`, `failed`, `restarted`); empty when none.
    public var logTail: [String]

    /// An event as read or as a test writes it.
    public init(
        seq: Int, time: String, service: String, type: EventKind, pid: Int32? = nil, previousPid: Int32? = nil,
        restarts: Int = 0, reason: String? = nil, durationMs: Int? = nil, logTail: [String] = [], since: String? = nil
    ) {
        self.seq = seq
        self.time = time
        self.service = service
        self.type = type
        self.pid = pid
        self.previousPid = previousPid
        self.restarts = restarts
        self.reason = reason
        self.durationMs = durationMs
        self.logTail = logTail
        self.since = since
    }

    /// An event happening now (or at `time`), before the event log numbers it.
    public init(
        service: String, type: EventKind, pid: Int32? = nil, previousPid: Int32? = nil, restarts: Int = 0,
        reason: String? = nil, logTail: [String] = [], durationMs: Int? = nil, time: Date = Date(), since: Date? = nil
    ) {
        self.init(
            seq: 0, time: EventLog.timestamp(time), service: service, type: type, pid: pid, previousPid: previousPid,
            restarts: restarts, reason: reason, durationMs: durationMs, logTail: logTail,
            since: since.map(EventLog.timestamp))
    }

    /// What the pure lifecycle emits: no name, no time (it has neither a clock nor the
    /// service's name); the runner completes it with `stamped(service:at:)`.
    static func lifecycle(_ type: EventKind, pid: Int32?, previousPid: Int32?, restarts: Int, reason: String?)
        -> ServiceEvent
    {
        ServiceEvent(
            seq: 0, time: "", service: "", type: type, pid: pid, previousPid: previousPid, restarts: restarts,
            reason: reason)
    }

    /// Named after `service` and stamped with `time`.
    func stamped(service: String, at time: Date) -> ServiceEvent {
        var event = self
        event.service = service
        event.time = EventLog.timestamp(time)
        return event
    }

    // MARK: - The line

    /// Its fields as written, in this order (SPEC "Events"): what `line` writes and
    /// what `Codable` encodes (the run report, the control API), so both name a field
    /// the same way. Absent values are left out; `restarts` is always there.
    public var fields: JSONValue {
        var members: [JSONValue.Member] = [
            .init("seq", .int(seq)), .init("time", .string(time)),
            .init("service", .string(service)), .init("type", .string(type.rawValue)),
        ]
        if let pid { members.append(.init("pid", .int(Int(pid)))) }
        if let previousPid { members.append(.init("previous_pid", .int(Int(previousPid)))) }
        members.append(.init("restarts", .int(restarts)))
        if let reason { members.append(.init("reason", .string(reason))) }
        if let since { members.append(.init("since", .string(since))) }
        if let durationMs { members.append(.init("duration_ms", .int(durationMs))) }
        if !logTail.isEmpty { members.append(.init("log_tail", .array(logTail.map(JSONValue.string)))) }
        return .object(members)
    }

    /// One line of `events.jsonl`, without its newline.
    public var line: String { fields.text }

    /// Parses one line; nil for anything that is not an event.
    public static func parse(_ line: String) -> ServiceEvent? {
        try? ControlJSON.decode(ServiceEvent.self, from: Data(line.utf8))
    }

    /// Every event in the file with `seq` in `range`.
    public static func read(_ path: String, seqs range: ClosedRange<Int>? = nil) -> [ServiceEvent] {
        FileTail.lastLines(of: path, count: nil).compactMap(parse).filter { range?.contains($0.seq) ?? true }
    }

    public func encode(to encoder: Encoder) throws {
        try fields.encode(to: encoder)
    }

    /// The names `ControlJSON`'s decoder sees (it converts `previous_pid` to `previousPid`).
    enum CodingKeys: String, CodingKey {
        case seq, time, service, type, pid, previousPid, restarts, reason, since, durationMs, logTail
    }

    /// `restarts` and `log_tail` may be absent (lines written by hand or by a muster that
    /// left them out); everything else an event needs must be there.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            seq: try container.decode(Int.self, forKey: .seq), time: try container.decode(String.self, forKey: .time),
            service: try container.decode(String.self, forKey: .service),
            type: try container.decode(EventKind.self, forKey: .type),
            pid: try container.decodeIfPresent(Int32.self, forKey: .pid),
            previousPid: try container.decodeIfPresent(Int32.self, forKey: .previousPid),
            restarts: try container.decodeIfPresent(Int.self, forKey: .restarts) ?? 0,
            reason: try container.decodeIfPresent(String.self, forKey: .reason),
            durationMs: try container.decodeIfPresent(Int.self, forKey: .durationMs),
            logTail: try container.decodeIfPresent([String].self, forKey: .logTail) ?? [],
            since: try container.decodeIfPresent(String.self, forKey: .since))
    }

    // MARK: - Reading

    public var date: Date? { RFC3339.time(time) }

    /// The service was not continuously up (`EventKind.isDisruptive`).
    public var isDisruptive: Bool { type.isDisruptive }

    /// `12:00:01.123 notifier restarted (exited with code 1 after 3.2s; was ready) — last lines: …`
    public func humanLine(timeZone: TimeZone = .current) -> String {
        var text = "\(clock(timeZone)) \(service) "
        switch type {
        case .restarted:
            text += "restarted (\(reason ?? "?"))"
            if let pid, let previousPid { text += " pid \(previousPid) → \(pid)" }
        case .restartDetected:
            text += "restarted without muster: \(reason ?? "new identity")"
        case .exited:
            text += "exited (\(reason ?? "?"))"
        case .available:
            text += "available again" + (durationMs.map { " after \($0)ms" } ?? "")
        case .starting:
            text += "starting" + (pid.map { " (pid \($0))" } ?? "")
        default:
            text += type.words + (reason.map { ": \($0)" } ?? "")
        }
        if type.carriesLogTail, !logTail.isEmpty {
            text += " — last lines: " + logTail.suffix(3).joined(separator: " ⏎ ")
        }
        return text
    }

    private func clock(_ zone: TimeZone) -> String {
        guard let date else { return time }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute, .second, .nanosecond], from: date)
        return String(
            format: "%02d:%02d:%02d.%03d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0,
            (parts.nanosecond ?? 0) / 1_000_000)
    }
}
