import Foundation

/// Fast RFC 3339 / ISO 8601 timestamps to seconds since 1970, without a
/// formatter: test reports hold hundreds of thousands of them, and creating an
/// `ISO8601DateFormatter` per value costs more than the whole parse.
///
/// Accepts `2026-12-03T08:00:01Z`, any number of fraction digits
/// (`.123`, `.123456`, `.123456789`), a `Z` or `±HH:MM` / `±HHMM` offset, a space
/// instead of `T`, and, only when `localIfNoZone` is given, no zone at all (the
/// time is then read in that zone, as JUnit writers such as Ant and Surefire do).
public enum RFC3339 {
    public static func seconds(_ text: String, localIfNoZone zone: TimeZone? = nil) -> Double? {
        var text = text
        return text.withUTF8 { parse($0, zone: zone) }
    }

    public static func date(_ text: String, localIfNoZone zone: TimeZone? = nil) -> Date? {
        seconds(text, localIfNoZone: zone).map { Date(timeIntervalSince1970: $0) }
    }

    /// A time muster wrote or reads back (events, reports, status): RFC 3339 with or
    /// without fractional seconds, within the years 1 to 9999; nil for anything else.
    public static func time(_ text: String) -> Date? {
        // RFC3339 alone: ICU's ISO8601DateFormatter died with SIGFPE on a mangled time
        // (found by the `events` fuzz target), and muster writes nothing else.
        guard let date = date(text), abs(date.timeIntervalSince1970) < 253_402_300_800 else { return nil }
        return date
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>, zone: TimeZone?) -> Double? {
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for _ in 0..<digits {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
                index += 1
            }
            return value
        }
        func expect(_ characters: [UInt8]) -> Bool {
            guard index < bytes.count, characters.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect([45]), let month = number(2), expect([45]), let day = number(2),
            expect([84, 116, 32]), let hour = number(2), expect([58]), let minute = number(2), expect([58]),
            let second = number(2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        // Whole microseconds (further digits are dropped), so equal texts give equal values.
        var micros = 0
        if index < bytes.count, bytes[index] == 46 || bytes[index] == 44 {
            index += 1
            var scale = 100_000
            let first = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                micros += Int(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > first else { return nil }
        }
        let whole = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        let local = whole * 1_000_000 + micros
        guard index < bytes.count else {
            guard let zone else { return nil }
            // Read as wall-clock time in `zone`: the offset at that moment (twice, for DST edges).
            let wall = microseconds(local)
            let guess = wall - Double(zone.secondsFromGMT(for: Date(timeIntervalSince1970: wall)))
            return microseconds(local - zone.secondsFromGMT(for: Date(timeIntervalSince1970: guess)) * 1_000_000)
        }
        switch bytes[index] {
        case 90, 122:  // Z z
            index += 1
            return index == bytes.count ? microseconds(local) : nil
        case 43, 45:  // + -
            let sign = bytes[index] == 43 ? 1 : -1
            index += 1
            guard let offsetHours = number(2) else { return nil }
            if index < bytes.count, bytes[index] == 58 { index += 1 }
            guard let offsetMinutes = number(2), index == bytes.count, offsetHours < 24, offsetMinutes < 60 else {
                return nil
            }
            return microseconds(local - sign * (offsetHours * 3600 + offsetMinutes * 60) * 1_000_000)
        default:
            return nil
        }
    }

    /// A count of microseconds as seconds: the same count always gives the same value.
    public static func microseconds(_ count: Int) -> Double {
        Double(count) / 1_000_000
    }

    /// Seconds rounded to whole microseconds (the precision of events.jsonl).
    public static func rounded(_ seconds: Double) -> Double {
        microseconds(Int((seconds * 1_000_000).rounded()))
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
