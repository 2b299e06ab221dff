import Foundation

/// The kind of an event (`"type"` in `events.jsonl` and the control API): the one
/// vocabulary every writer and reader of events uses, with the one definition of
/// what is disruptive, what begins and ends a `Disruption`, and what leaves a
/// service down.
///
/// A struct over its string rather than an enum: a line written by a newer muster
/// (or by hand) keeps its kind when read back and is encoded again byte for byte,
/// where an enum would have to fail the whole line or map it to a catch-all case
/// that forgets the text. Every kind muster writes is a constant below; nothing
/// else in the code spells one.
public struct EventKind: RawRepresentable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    // Written by the lifecycle (ServiceLifecycle).
    public static let starting = EventKind(rawValue: "starting")
    public static let ready = EventKind(rawValue: "ready")
    public static let completed = EventKind(rawValue: "completed")
    public static let exited = EventKind(rawValue: "exited")
    public static let restarted = EventKind(rawValue: "restarted")
    public static let failed = EventKind(rawValue: "failed")
    public static let stopping = EventKind(rawValue: "stopping")
    public static let stopped = EventKind(rawValue: "stopped")
    // Written by the runner's monitors and alive probe.
    /// A restart muster did not cause (a monitor saw a new identity); `since` bounds when.
    public static let restartDetected = EventKind(rawValue: "restart_detected")
    public static let unavailable = EventKind(rawValue: "unavailable")
    public static let available = EventKind(rawValue: "available")
    /// Worth telling, not a failure (Postgres connections above 80 %).
    public static let warning = EventKind(rawValue: "warning")

    /// Every kind muster writes.
    public static let all: [EventKind] = [
        .starting, .ready, .completed, .exited, .restarted, .failed, .stopping, .stopped,
        .restartDetected, .unavailable, .available, .warning,
    ]

    /// Begins a `Disruption` when none is open for the service.
    public var beginsDisruption: Bool { Self.beginning.contains(self) }
    private static let beginning: Set<EventKind> = [.exited, .restarted, .failed, .stopping, .unavailable]

    /// Ends the service's open `Disruption`: it is serving again.
    public var endsDisruption: Bool { self == .ready || self == .available || self == .completed }

    /// The service was not continuously up: what begins a disruption, a restart muster
    /// did not cause, and `stopped`. The run report's `clean`, `findings` and `watch`
    /// use this.
    public var isDisruptive: Bool { beginsDisruption || self == .restartDetected || self == .stopped }

    /// After it no process of the service serves (until it starts again): the timeline's
    /// "down" lanes.
    public var isDown: Bool { self == .exited || self == .failed || self == .stopping || self == .stopped }

    /// Something went wrong that muster did not ask for (not a stop someone asked for,
    /// not a warning): red on the console, a cross in the progress view.
    public var isFault: Bool { isDisruptive && self != .stopping && self != .stopped }

    /// A new incarnation replaced the old one, by muster or not.
    public var isRestart: Bool { self == .restarted || self == .restartDetected }

    /// The service is serving: ready, completed (a task) or available again.
    public var isServing: Bool { endsDisruption }

    /// Its last log lines are worth showing beside it.
    public var carriesLogTail: Bool { self == .restarted || self == .exited || self == .failed }

    /// `restart`, `exit`, ... for sentences like "overlapped a restart of notifier".
    public var noun: String {
        switch self {
        case .restarted, .restartDetected: return "restart"
        case .exited: return "exit"
        case .failed: return "failure"
        case .stopping: return "stop"
        case .unavailable: return "unavailability"
        default: return rawValue
        }
    }

    /// `restart detected`: the kind in prose.
    public var words: String { rawValue.replacingOccurrences(of: "_", with: " ") }

    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
