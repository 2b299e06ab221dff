import Foundation

/// The append-only `events.jsonl` of a project. `seq` numbers events without gaps,
/// continuing from the last line on disk, so a reader can tell it missed none,
/// across supervisor restarts too.
/// Unchecked: appends and the seq counter are guarded by its lock.
public final class EventLog: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var fd: Int32
    private var seq: Int

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw MusterError(.environment, "cannot open event log \(path): \(String(cString: strerror(errno)))")
        }
        seq = Self.lastSeq(in: path)
    }

    deinit { close(fd) }

    /// Appends one event (numbered, its reason and log lines masked) and returns its `seq`.
    @discardableResult
    public func append(_ event: ServiceEvent) -> Int {
        lock.lock()
        defer { lock.unlock() }
        seq += 1
        var written = event
        written.seq = seq
        written.reason = event.reason.map(Secrets.mask)
        written.logTail = event.logTail.map(Secrets.mask)
        var line = written.line
        line.append("\n")
        line.withUTF8 { _ = writeAll(fd, UnsafeRawBufferPointer($0)) }
        return seq
    }

    /// RFC 3339 UTC with microseconds: `2026-11-22T10:00:01.123456Z`.
    public static func timestamp(_ date: Date) -> String {
        // To the nearest microsecond, so a time parsed from a timestamp prints as that timestamp.
        let total = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let floored = total >= 0 ? total / 1_000_000 : (total - 999_999) / 1_000_000
        var whole = time_t(floored)
        let micros = Int(total - floored * 1_000_000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        // Digits by hand: String(format:) dominated reading large test reports.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(27)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            for _ in 0..<count {
                bytes.append(UInt8(48 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); bytes.append(45)
        digits(Int(parts.tm_mon) + 1, 2); bytes.append(45)
        digits(Int(parts.tm_mday), 2); bytes.append(84)
        digits(Int(parts.tm_hour), 2); bytes.append(58)
        digits(Int(parts.tm_min), 2); bytes.append(58)
        digits(Int(parts.tm_sec), 2); bytes.append(46)
        digits(micros, 6); bytes.append(90)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The highest `seq` already in the file (its last complete line).
    public static func lastSeq(in path: String) -> Int {
        // A line cut short by a crash mid-write does not parse and is skipped.
        FileTail.lastLines(of: path, count: 64).reversed().lazy.compactMap(ServiceEvent.parse).first?.seq ?? 0
    }
}
