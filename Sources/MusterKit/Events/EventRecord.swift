import Foundation

/// One line of `events.jsonl`, read back.
public struct EventRecord: Codable, Sendable, Equatable {
    public var seq: Int
    public var time: String
    public var service: String
    public var type: EventKind
    public var pid: Int32?
    public var previousPid: Int32?
    public var restarts: Int?
    public var reason: String?
    public var durationMs: Int?
    public var logTail: [String]?
    /// restart_detected only: the time of the monitor's last check that still saw
    /// the old identity, so the restart happened in `[since, time]`.
    public var since: String?

    public init(seq: Int, time: String, service: String, type: EventKind, pid: Int32? = nil, previousPid: Int32? = nil,
                restarts: Int? = nil, reason: String? = nil, durationMs: Int? = nil, logTail: [String]? = nil, since: String? = nil) {
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

    /// Parses one line; nil for anything that is not an event.
    public static func parse(_ line: String) -> EventRecord? {
        try? ControlJSON.decode(EventRecord.self, from: Data(line.utf8))
    }

    /// Every event in the file with `seq` in `range`.
    public static func read(_ path: String, seqs range: ClosedRange<Int>? = nil) -> [EventRecord] {
        FileTail.lastLines(of: path, count: nil).compactMap(parse).filter { range?.contains($0.seq) ?? true }
    }

    public var date: Date? { Self.parseTime(time) }

    /// RFC 3339 with or without fractional seconds.
    public static func parseTime(_ text: String) -> Date? {
        // RFC3339 alone: ICU's ISO8601DateFormatter died with SIGFPE on a mangled time
        // (found by the `events` fuzz target), and muster writes nothing else.
        guard let date = RFC3339.date(text), abs(date.timeIntervalSince1970) < 253_402_300_800 else { return nil }
        return date
    }

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
        if type.carriesLogTail, let tail = logTail, !tail.isEmpty {
            text += " — last lines: " + tail.suffix(3).joined(separator: " ⏎ ")
        }
        return text
    }

    private func clock(_ zone: TimeZone) -> String {
        guard let date else { return time }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute, .second, .nanosecond], from: date)
        return String(format: "%02d:%02d:%02d.%03d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, (parts.nanosecond ?? 0) / 1_000_000)
    }
}
