import Foundation

/// The Postgres template cache, kept under a size limit on the user's disk. Every key
/// (a Postgres build with initdb settings: each change of authentication makes one)
/// keeps a template of about 27 MB and up to `MUSTER_TEMPLATE_SPARES` spares of the same
/// size; without pruning, one afternoon of tests left 213 MB. After a template is made
/// or used, the keys least recently used go first (their template, spares and files)
/// until the cache is under `MUSTER_TEMPLATE_CACHE_LIMIT` (default 1 GB). A key in
/// use (its lock held by a copy or a spare being made) and the key just used are never
/// removed. A key's last use is the modification time of its `KEY.lock`, touched at
/// each use.
enum TemplateCache {
    static let defaultLimit = 1 << 30

    /// `MUSTER_TEMPLATE_CACHE_LIMIT` (`512MB`, `2GB`), else 1 GB.
    static func limit(_ environment: [String: String]) -> Int {
        environment["MUSTER_TEMPLATE_CACHE_LIMIT"].flatMap(ByteSize.parse) ?? defaultLimit
    }

    /// One key's files in the cache, and when it was last used.
    struct Entry: Equatable {
        var key: String
        var bytes: Int
        var lastUsed: Date
    }

    /// Marks `template`'s key as just used.
    static func touch(_ template: String) {
        utimes(template + ".lock", nil)
    }

    /// Every key in `cache` with the disk space its template, spares and files take.
    static func entries(in cache: String) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: cache) else { return [] }
        return names.filter { $0.hasSuffix(".lock") }.map { String($0.dropLast(5)) }.map { key in
            var info = stat()
            let used =
                stat(cache + "/" + key + ".lock", &info) == 0
                ? Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)) : .distantPast
            let bytes = names.filter { $0 == key || $0.hasPrefix(key + ".") }.reduce(0) {
                $0 + diskUsage(cache + "/" + $1)
            }
            return Entry(key: key, bytes: bytes, lastUsed: used)
        }
    }

    /// Removes the least recently used keys until the cache fits `limit`; never `keep`
    /// nor a key whose lock someone holds. Returns the keys removed.
    @discardableResult
    static func prune(_ cache: String, limit: Int, keep: String?) -> [String] {
        var entries = entries(in: cache).sorted { $0.lastUsed < $1.lastUsed }
        var total = entries.reduce(0) { $0 + $1.bytes }
        var removed: [String] = []
        while total > limit, let oldest = entries.first {
            entries.removeFirst()
            guard oldest.key != keep else { continue }
            let lockPath = cache + "/" + oldest.key + ".lock"
            let fd = open(lockPath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }  // in use: keep it
            // The manifest first (the template is then remade, never copied, if a removal is
            // cut short), the lock file last (a key is known by it until all else is gone).
            let base = cache + "/" + oldest.key
            try? FileManager.default.removeItem(atPath: TemplateManifest.path(for: base))
            let names = (try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []
            for name in names
            where name == oldest.key || (name.hasPrefix(oldest.key + ".") && name != oldest.key + ".lock") {
                try? FileManager.default.removeItem(atPath: cache + "/" + name)
            }
            unlink(lockPath)
            total -= oldest.bytes
            removed.append(oldest.key)
        }
        return removed
    }

    /// Blocks on disk (holes of sparse files do not count), without following links.
    static func diskUsage(_ path: String) -> Int {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var bytes = Int(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, let names = try? FileManager.default.contentsOfDirectory(atPath: path)
        else {
            return bytes
        }
        for name in names { bytes += diskUsage(path + "/" + name) }
        return bytes
    }

    /// Whether one more copy of `template` (a spare) fits under `limit`, after making
    /// room by pruning other keys least recently used first.
    static func roomForOneMore(of template: String, limit: Int) -> Bool {
        let cache = (template as NSString).deletingLastPathComponent
        let key = (template as NSString).lastPathComponent
        let size = diskUsage(template)
        if entries(in: cache).reduce(0, { $0 + $1.bytes }) + size <= limit { return true }
        prune(cache, limit: max(0, limit - size), keep: key)
        return entries(in: cache).reduce(0, { $0 + $1.bytes }) + size <= limit
    }
}
