import Foundation

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
        snapshot(ofFiles: [path], count: count)
    }

    /// The same over files that continue one another, oldest first (a rotated log:
    /// `NAME.log.2`, `NAME.log.1`, `NAME.log`); a line cut by a rotation is joined
    /// again. `end` is the size of the last file. With `wholeLines`, a last line still
    /// being written is left out and `end` stops before it, so a follower hands it
    /// out once, whole.
    public static func snapshot(ofFiles files: [String], count: Int?, wholeLines: Bool = false) -> (
        lines: [String], end: UInt64
    ) {
        var handles: [(FileHandle, UInt64)] = []
        var end: UInt64 = 0
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            let size = (try? handle.seekToEnd()) ?? 0
            handles.append((handle, size))
            if file == files.last { end = size }
        }
        defer { handles.forEach { try? $0.0.close() } }
        guard let count else {
            var all = Data()
            for (handle, size) in handles {
                try? handle.seek(toOffset: 0)
                all += handle.readData(ofLength: Int(size))
            }
            if wholeLines { dropPartialLine(&all, end: &end) }
            return (lines(in: all), end)
        }
        guard count > 0 else { return ([], end) }
        var chunk = Data()
        let step: UInt64 = 64 * 1024
        reading: for (handle, size) in handles.reversed() {
            var offset = size
            while offset > 0 {
                let start = offset > step ? offset - step : 0
                try? handle.seek(toOffset: start)
                chunk = (handle.readData(ofLength: Int(offset - start))) + chunk
                offset = start
                // One more newline than lines wanted guarantees the first kept line is whole.
                if chunk.reduce(0, { $1 == 10 ? $0 + 1 : $0 }) > count + (wholeLines ? 1 : 0) { break reading }
            }
        }
        if wholeLines { dropPartialLine(&chunk, end: &end) }
        return (Array(lines(in: chunk).suffix(count)), end)
    }

    private static func dropPartialLine(_ data: inout Data, end: inout UInt64) {
        let keep = data.lastIndex(of: 10).map { data.distance(from: data.startIndex, to: $0) + 1 } ?? 0
        let partial = UInt64(data.count - keep)
        guard partial > 0 else { return }
        data = data.prefix(keep)
        end = end >= partial ? end - partial : 0
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
/// that is replaced (a rotated log: same path, new inode) is read to its end
/// through the descriptor still open on it, then the new one from its start; a
/// file that shrinks in place (truncated) is read again from its start.
public final class FileFollower {
    public let path: String
    private var offset: UInt64
    private var partial = Data()
    private var fd: Int32 = -1
    private var inode: UInt64 = 0
    /// Skip to the next line start: files were lost between looks.
    private var discardFragment = false

    /// Starts at `offset` (0: the whole file).
    public init(path: String, offset: UInt64 = 0) {
        self.path = path
        self.offset = offset
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Lines appended since the last call.
    public func poll() -> [String] {
        if fd < 0 {
            guard reopen() else { return [] }
        }
        var info = stat()
        if stat(path, &info) == 0, UInt64(info.st_ino) != inode {
            readToEnd(all: true)
            close(fd)
            fd = -1
            // Rotated more than once since the last look: the files made after the one
            // just finished (now NAME.log.k-1 .. NAME.log.1) come first, whole.
            let later = rotatedSince(inode)
            for file in later {
                offset = 0
                fd = open(file, O_RDONLY | O_CLOEXEC)
                if fd >= 0 {
                    readToEnd(all: true)
                    close(fd)
                    fd = -1
                }
            }
            offset = 0
            guard reopen() else { return complete() }
        }
        if fstat(fd, &info) == 0, UInt64(info.st_size) < offset {
            offset = 0
            partial = Data()
        }
        readToEnd()
        return complete()
    }

    /// The rotated files newer than the one with `finished` inode, oldest first; none
    /// when it is NAME.log.1 (rotated once) or no longer there.
    private func rotatedSince(_ finished: UInt64) -> [String] {
        var newer: [String] = []
        for index in 1...LogSettings.filesRange.upperBound {
            let file = RotatingLog.rotated(path, index)
            var info = stat()
            guard stat(file, &info) == 0 else { break }
            if UInt64(info.st_ino) == finished { return newer.reversed() }
            newer.append(file)
        }
        // Gone (rotated past max_files): what follows starts mid-line.
        partial = Data()
        discardFragment = true
        return []
    }

    private func reopen() -> Bool {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        var info = stat()
        inode = fstat(fd, &info) == 0 ? UInt64(info.st_ino) : 0
        if UInt64(info.st_size) < offset { offset = 0 }
        return true
    }

    /// Reads what the open file holds past `offset`: at most 8 MB per call, or all of
    /// it when the file was replaced and this is the last look at it.
    private func readToEnd(all: Bool = false) {
        var info = stat()
        guard fstat(fd, &info) == 0, UInt64(info.st_size) > offset else { return }
        var wanted = Int(UInt64(info.st_size) - offset)
        if !all { wanted = min(wanted, 8 * 1024 * 1024) }
        var buffer = [UInt8](repeating: 0, count: min(wanted, 1 << 20))
        while wanted > 0 {
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, wanted), off_t(offset)) }
            guard got > 0 else { return }
            partial.append(contentsOf: buffer[0..<got])
            offset += UInt64(got)
            wanted -= got
        }
    }

    private func complete() -> [String] {
        if discardFragment, let newline = partial.firstIndex(of: 10) {
            partial.removeSubrange(partial.startIndex...newline)
            discardFragment = false
        }
        guard let lastNewline = partial.lastIndex(of: 10) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        partial = Data(partial[partial.index(after: lastNewline)...])
        return FileTail.lines(in: Data(complete))
    }
}
