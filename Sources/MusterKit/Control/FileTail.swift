import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading the end of a log or event file, and following it as it grows.
public enum FileTail {
    /// The last `count` lines of the file (all of them when count is nil), without
    /// reading more of a large file than those lines need.
    public static func lastLines(of path: String, count: Int?) -> [String] {
        snapshot(of: path, count: count).lines
    }

    /// The last lines and the file size they were read up to, where a follower
    /// should continue so that no line is lost or repeated.
    public static func snapshot(of path: String, count: Int?) -> (lines: [String], end: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { return ([], 0) }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard let count else {
            try? handle.seek(toOffset: 0)
            let data = handle.readData(ofLength: Int(size))
            return (lines(in: data), size)
        }
        guard count > 0, size > 0 else { return ([], size) }
        var offset = size
        var chunk = Data()
        let step: UInt64 = 64 * 1024
        while offset > 0 {
            let start = offset > step ? offset - step : 0
            try? handle.seek(toOffset: start)
            chunk = (handle.readData(ofLength: Int(offset - start))) + chunk
            offset = start
            // One more newline than lines wanted guarantees the first kept line is whole.
            if chunk.reduce(0, { $1 == 10 ? $0 + 1 : $0 }) > count { break }
        }
        return (Array(lines(in: chunk).suffix(count)), size)
    }

    /// Complete lines of `data`; a trailing partial line counts as a line.
    /// Split as bytes: splitting the decoded String walks grapheme clusters, which
    /// took milliseconds for 64 KB.
    static func lines(in data: Data) -> [String] {
        var bytes = data[...]
        if bytes.last == 10 { bytes = bytes.dropLast() }
        if bytes.isEmpty { return [] }
        return bytes.split(separator: 10, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Follows a file from an offset, handing out each complete line once. A file
/// that shrinks (truncated or replaced) is read again from its start.
public final class FileFollower {
    public let path: String
    private var offset: UInt64
    private var partial = Data()

    /// Starts at `offset` (0: the whole file).
    public init(path: String, offset: UInt64 = 0) {
        self.path = path
        self.offset = offset
    }

    /// Lines appended since the last call.
    public func poll() -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        let size = UInt64(info.st_size)
        if size < offset {
            offset = 0
            partial = Data()
        }
        guard size > offset, let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readData(ofLength: Int(min(size - offset, 8 * 1024 * 1024)))
        offset += UInt64(data.count)
        partial.append(data)
        guard let lastNewline = partial.lastIndex(of: 10) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        partial = Data(partial[partial.index(after: lastNewline)...])
        return FileTail.lines(in: Data(complete))
    }
}
