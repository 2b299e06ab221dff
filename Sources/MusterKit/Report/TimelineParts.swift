import Foundation

/// The time axis: about eight ticks at round steps (1, 2, 5 × 10ⁿ ms, then seconds,
/// minutes, hours), labelled as the time since the left edge.
public enum TimeAxis {
    public struct Tick: Sendable, Equatable {
        public var x: Double
        public var offsetMs: Int64
        public var label: String
    }

    static let steps: [Int64] = [
        1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
        60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
        10_800_000, 21_600_000, 43_200_000, 86_400_000,
    ]

    /// The smallest round step that gives at most `most` intervals over `spanMs`.
    static func step(spanMs: Double, most: Double = 9) -> Int64 {
        steps.first { Double($0) * most >= spanMs } ?? Int64((spanMs / most).rounded(.up))
    }

    public static func ticks(from start: Date, to end: Date, left: Double, right: Double) -> [Tick] {
        let spanMs = end.timeIntervalSince(start) * 1000
        guard spanMs > 0 else { return [] }
        let step = step(spanMs: spanMs)
        return stride(from: Int64(0), through: Int64(spanMs), by: Int(step)).map { offset in
            Tick(x: left + Double(offset) / spanMs * (right - left), offsetMs: offset, label: label(offset, step: step))
        }
    }

    /// `0s`, `250ms`, `1.5s`, `40s`, `2m`, `2m30s`, `1h`, `1h15m`.
    static func label(_ ms: Int64, step: Int64) -> String {
        if ms == 0 { return "0s" }
        if step < 100 { return "\(ms)ms" }
        if ms < 60_000 {
            return step < 1_000 ? String(format: "%.1fs", Double(ms) / 1000) : "\(ms / 1000)s"
        }
        let seconds = ms / 1000
        if seconds < 3600 {
            return seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds / 60)m\(seconds % 60)s"
        }
        return seconds % 3600 == 0 ? "\(seconds / 3600)h" : "\(seconds / 3600)h\(seconds / 60 % 60)m"
    }
}

/// A service's state over the picture's time range, from its events: `ready`
/// until something happens (muster run starts its command on a ready stack), then
/// `starting` after `starting`/`restarted`, `ready` after `ready`/`available`/
/// `completed`, `down` after `exited`/`failed`/`stopping`/`stopped`, `unavailable`
/// after `unavailable`. A disruption that began before the range opens it `down`.
enum ServiceStates {
    struct Piece: Equatable {
        var state: String
        var start: Date
        var end: Date
        var reason: String?
    }

    static func state(after kind: EventKind) -> String? {
        if kind == .starting || kind == .restarted { return "starting" }
        if kind.isServing { return "ready" }
        if kind.isDown { return "down" }
        return kind == .unavailable ? "unavailable" : nil
    }

    static func pieces(events: [ServiceEvent], disruptions: [RunTimeline.Disruption], from start: Date, to end: Date)
        -> [Piece]
    {
        var current = Piece(state: "ready", start: start, end: start)
        if let open = disruptions.first(where: { $0.start < start && ($0.end ?? .distantFuture) > start }) {
            current.state = open.kind == .unavailable ? "unavailable" : "down"
            current.reason = open.reason
        }
        var pieces: [Piece] = []
        let timed = events.compactMap { event in event.date.map { (date: $0, event: event) } }
            .sorted { ($0.date, $0.event.seq) < ($1.date, $1.event.seq) }
        for (date, event) in timed {
            guard let next = state(after: event.type), date <= end else { continue }
            let at = max(date, start)
            if next == current.state && event.type != .restarted { continue }
            current.end = at
            if current.end > current.start { pieces.append(current) }
            current = Piece(state: next, start: at, end: at, reason: event.reason)
        }
        current.end = end
        if current.end > current.start || pieces.isEmpty { pieces.append(current) }
        return pieces
    }
}
