import Foundation
import Testing
@testable import MusterKit

/// The Postgres template cache stays under its limit: least recently used keys go
/// first, never the one in use or just used. Real folders and flocks, no Postgres.
@Suite struct TemplateCacheTests {
    /// A cache folder with one key per (name, bytes, days since last use).
    func cache(_ keys: [(String, Int, Int)]) throws -> String {
        let cache = NSTemporaryDirectory() + "muster-cache-test-\(UInt32.random(in: 0...UInt32.max))"
        for (key, bytes, days) in keys {
            try FileManager.default.createDirectory(
                atPath: cache + "/" + key + ".spares/spare-1", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: cache + "/" + key, withIntermediateDirectories: true)
            try Data(repeating: 7, count: bytes / 2).write(to: URL(fileURLWithPath: cache + "/" + key + "/base"))
            try Data(repeating: 7, count: bytes / 2).write(
                to: URL(fileURLWithPath: cache + "/" + key + ".spares/spare-1/base"))
            try "files".write(toFile: cache + "/" + key + ".manifest", atomically: true, encoding: .utf8)
            _ = FileManager.default.createFile(atPath: cache + "/" + key + ".lock", contents: nil)
            var times = [
                timeval(tv_sec: time(nil) - days * 86_400, tv_usec: 0),
                timeval(tv_sec: time(nil) - days * 86_400, tv_usec: 0),
            ]
            utimes(cache + "/" + key + ".lock", &times)
        }
        return cache
    }

    func names(_ cache: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? [])
    }

    @Test func theLeastRecentlyUsedKeysGoUntilTheCacheFits() throws {
        let mb = 1 << 20
        let cache = try cache([
            ("old", 4 * mb, 30), ("older", 4 * mb, 60), ("recent", 4 * mb, 1), ("current", 4 * mb, 90),
        ])
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let sizes = Dictionary(uniqueKeysWithValues: TemplateCache.entries(in: cache).map { ($0.key, $0.bytes) })
        #expect(sizes.count == 4 && sizes.values.allSatisfy { $0 >= 4 * mb }, "\(sizes)")
        // Room for two keys: "current" is kept although it is the oldest; then the oldest others go.
        let removed = TemplateCache.prune(cache, limit: 9 * mb, keep: "current")
        #expect(removed == ["older", "old"])
        #expect(
            names(cache) == [
                "recent", "recent.spares", "recent.manifest", "recent.lock",
                "current", "current.spares", "current.manifest", "current.lock",
            ])
        #expect(TemplateCache.entries(in: cache).reduce(0) { $0 + $1.bytes } <= 9 * mb)
        // Under the limit, nothing goes.
        #expect(TemplateCache.prune(cache, limit: 100 * mb, keep: nil).isEmpty)
    }

    @Test func aKeyInUseIsNeverRemoved() throws {
        let mb = 1 << 20
        let cache = try cache([("busy", 4 * mb, 60), ("idle", 4 * mb, 30)])
        defer { try? FileManager.default.removeItem(atPath: cache) }
        // A copy of "busy" holds its lock shared, as PostgresTemplate.copy does.
        let fd = open(cache + "/busy.lock", O_RDWR | O_CLOEXEC)
        #expect(flock(fd, LOCK_SH) == 0)
        defer { close(fd) }
        #expect(TemplateCache.prune(cache, limit: 1, keep: nil) == ["idle"])
        #expect(names(cache).contains("busy") && names(cache).contains("busy.spares"))
    }

    @Test func theLimitIsReadFromTheEnvironment() {
        #expect(TemplateCache.limit([:]) == 1 << 30)
        #expect(TemplateCache.limit(["MUSTER_TEMPLATE_CACHE_LIMIT": "256MB"]) == 256 << 20)
        #expect(TemplateCache.limit(["MUSTER_TEMPLATE_CACHE_LIMIT": "lots"]) == 1 << 30)
    }

    @Test func aSpareIsMadeOnlyWhenItFits() throws {
        let mb = 1 << 20
        let cache = try cache([("stale", 4 * mb, 60), ("mine", 4 * mb, 0)])
        defer { try? FileManager.default.removeItem(atPath: cache) }
        // Room for mine's next spare after the stale key goes.
        #expect(TemplateCache.roomForOneMore(of: cache + "/mine", limit: 9 * mb))
        #expect(!names(cache).contains("stale"))
        // No room even with everything else gone.
        #expect(!TemplateCache.roomForOneMore(of: cache + "/mine", limit: 5 * mb))
        #expect(names(cache).contains("mine"))
    }
}
