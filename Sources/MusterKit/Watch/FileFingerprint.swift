import Foundation

/// What tells a change of a file's content from a read, a `chmod` or a `touch`:
/// size, modification time and inode from one `lstat`, and a hash of the content for
/// files small enough to read.
struct FileFingerprint: Equatable, Sendable {
    var size: Int64
    var modified: Int64
    var inode: UInt64
    /// nil when the file was too large to hash, or was not hashed when first seen.
    var contentHash: Int?

    /// Files up to this size are hashed, so a `touch` of one is told from an edit.
    static let hashLimit: Int64 = 1 << 20

    /// nil when the path does not exist or is a folder.
    static func read(_ path: String, hashing: Bool) -> FileFingerprint? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { return nil }
        var print = FileFingerprint(
            size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            inode: UInt64(info.st_ino))
        if hashing, print.size <= hashLimit, (info.st_mode & S_IFMT) == S_IFREG { print.contentHash = hash(of: path) }
        return print
    }

    static func hash(of path: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var hasher = Hasher()
        data.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    /// Whether going from `old` to `new` changed what the file holds.
    static func contentChanged(from old: FileFingerprint?, to new: FileFingerprint?) -> Bool {
        guard let old, let new else { return (old == nil) != (new == nil) }
        if old.size != new.size { return true }
        if old.modified == new.modified && old.inode == new.inode { return false }
        guard let before = old.contentHash, let after = new.contentHash else { return true }
        return before != after
    }
}
