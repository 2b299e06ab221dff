import Foundation

/// How large one service's log may grow (resolved from the stack's `logs:` fields).
public struct LogLimit: Sendable, Equatable {
    public var maxSize: Int
    public var maxFiles: Int

    public init(maxSize: Int = LogSettings.defaultMaxSize, maxFiles: Int = LogSettings.defaultMaxFiles) {
        self.maxSize = maxSize
        self.maxFiles = maxFiles
    }
}

/// A service's log file that rotates by size: when the next write would take
/// `NAME.log` past `maxSize`, it becomes `NAME.log.1` (`.1` becomes `.2`, and so on,
/// the oldest past `maxFiles` dropped) and a fresh `NAME.log` is opened, at a line
/// boundary. On disk there is never more than `maxSize * (maxFiles + 1)` plus one write.
///
/// The descriptor number `fd` stays the same across rotations (the fresh file is
/// put under it with dup3), so pre-start steps and helper programs handed it keep
/// writing into the current file.
/// Unchecked: writes and rotations happen under its lock.
public final class RotatingLog: @unchecked Sendable {
    public let path: String
    public let limit: LogLimit
    public let fd: Int32
    private var size: Int
    /// The last byte written ended a line.
    private var atLineStart = true
    private let lock = NSLock()

    public init(path: String, limit: LogLimit) {
        self.path = path
        self.limit = limit
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        size = Self.size(of: fd)
        // Files past max_files are from a larger setting of an earlier run.
        for index in (limit.maxFiles + 1)...(LogSettings.filesRange.upperBound + 1) {
            _ = unlink(Self.rotated(path, index))
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// `NAME.log.N`.
    public static func rotated(_ path: String, _ index: Int) -> String { "\(path).\(index)" }

    /// Appends `bytes`, rotating first when they would take the file past its cap.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard fd >= 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        var rest = bytes
        if size > 0, size + bytes.count > limit.maxSize {
            size = Self.size(of: fd)  // helper programs may have written to fd directly
            if size > 0, size + bytes.count > limit.maxSize {
                // The line being written ends in this file, so every file starts
                // with a whole line (unless one line is longer than a whole write).
                if !atLineStart, let newline = bytes.firstIndex(of: 10) {
                    writeAll(fd, UnsafeRawBufferPointer(rebasing: bytes[...newline]))
                    rest = UnsafeRawBufferPointer(rebasing: bytes[(newline + 1)...])
                }
                rotate()
            }
        }
        writeAll(fd, rest)
        size += rest.count
        if let last = rest.last { atLineStart = last == 10 }
    }

    private func rotate() {
        if limit.maxFiles == 0 {
            _ = ftruncate(fd, 0)
            size = 0
            return
        }
        for index in stride(from: limit.maxFiles - 1, through: 1, by: -1) {
            _ = rename(Self.rotated(path, index), Self.rotated(path, index + 1))
        }
        guard rename(path, Self.rotated(path, 1)) == 0 else { return }
        let fresh = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fresh >= 0 else { return }  // keep writing where we were rather than lose output
        Descriptors.duplicate(fresh, onto: fd)
        close(fresh)
        size = 0
    }

    private static func size(of fd: Int32) -> Int {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }
}

/// Every file of one service's log, oldest first: `NAME.log.N` .. `NAME.log.1`, `NAME.log`.
public enum LogFiles {
    /// Every index is looked at: in the middle of a rotation `.1` is briefly missing.
    public static func all(_ path: String) -> [String] {
        let rotated = (1...LogSettings.filesRange.upperBound).map { RotatingLog.rotated(path, $0) }
        return rotated.filter { access($0, F_OK) == 0 }.reversed() + [path]
    }
}
