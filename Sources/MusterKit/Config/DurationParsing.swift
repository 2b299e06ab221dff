import Foundation

/// Durations in stack files: `250ms`, `2s`, `1m`, `1h`, `1.5s` and sums like `1m30s`.
/// A bare number is refused: `10` could mean seconds or milliseconds.
public enum DurationParser {
    private static let units: [(suffix: String, nanos: Double)] = [
        ("ms", 1e6), ("us", 1e3), ("µs", 1e3), ("ns", 1), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Parses a duration, or returns a one-line explanation of what is wrong.
    public static func parse(_ text: String) -> Result<Duration, ParseProblem> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return .failure(ParseProblem("empty duration; write e.g. 2s or 250ms")) }
        if Double(trimmed) != nil {
            return .failure(ParseProblem("duration \"\(trimmed)\" has no unit; write \(trimmed)s or \(trimmed)ms"))
        }
        var rest = Substring(trimmed)
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else {
                return .failure(
                    ParseProblem("bad duration \"\(trimmed)\"; use a number with ms, s, m or h, e.g. 1m30s"))
            }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }) else {
                return .failure(
                    ParseProblem("bad duration \"\(trimmed)\"; use a number with ms, s, m or h, e.g. 1m30s"))
            }
            rest = rest.dropFirst(unit.suffix.count)
            total += value * unit.nanos
        }
        guard total.isFinite, total <= 365 * 24 * 3600e9 else {
            return .failure(ParseProblem("duration \"\(trimmed)\" is too long"))
        }
        return .success(.nanoseconds(Int64(total)))
    }

    /// Short human form: `250ms`, `1.2s`, `2m05s`.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return tenths % 10 == 0 ? "\(tenths / 10)s" : "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = ms / 1000
        return String(format: "%dm%02ds", seconds / 60, seconds % 60)
    }
}

/// A one-line problem found while parsing a value; the caller adds the location.
public struct ParseProblem: Error, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double, for arithmetic such as backoff factors.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
