import Foundation
import MusterKit

/// `muster db list`'s keyed parts: the snapshots set aside under their key in the
/// cluster, and the clusters the snapshot cache (`MUSTER_CACHE_DIR`) keeps per key.
enum KeyListing {
    static func short(_ key: String?) -> String {
        key.map { String($0.prefix(8)) + "…" } ?? "-"
    }

    /// `3m12s` since an RFC 3339 time, `?` when it does not read.
    static func age(_ time: String) -> String {
        RFC3339.time(time).map { DurationParser.format(.milliseconds(Int64(Date().timeIntervalSince($0) * 1000))) }
            ?? "?"
    }

    static func printSetAside(_ keyed: [DatabaseSnapshots.KeyedSnapshot]) {
        guard !keyed.isEmpty else { return }
        var rows = [["SET ASIDE (KEY)", "DATABASE", "SNAPSHOT", "SIZE", "AGE"]]
        for snapshot in keyed.reversed() {
            rows.append([
                short(snapshot.key), snapshot.database, snapshot.name,
                ByteCountFormatter.string(fromByteCount: Int64(snapshot.sizeBytes), countStyle: .binary),
                age(snapshot.taken),
            ])
        }
        print("")
        Table.render(rows).forEach { print($0) }
        print(
            "(at most \(DatabaseSnapshots.keyLimit) keys per snapshot, the current one included; older ones are dropped)"
        )
    }

    static func printCache(service: String) {
        guard let directory = SnapshotCache.directory(ProcessInfo.processInfo.environment) else { return }
        let cache = SnapshotCache(directory: directory)
        let entries = cache.entries().filter { $0.service == service }
        print("")
        guard !entries.isEmpty else {
            print("snapshot cache \(cache.folder): no cluster for \(service)")
            return
        }
        var rows = [["CACHED (KEY)", "DATABASE", "SNAPSHOT", "SIZE", "AGE", "LAST USED"]]
        for entry in entries.reversed() {
            rows.append([
                short(entry.key), entry.database, entry.snapshot,
                ByteCountFormatter.string(fromByteCount: Int64(entry.sizeBytes ?? 0), countStyle: .binary),
                age(entry.taken), age(entry.used) + " ago",
            ])
        }
        print("snapshot cache \(cache.folder) (at most \(SnapshotCache.keep) keys per snapshot):")
        Table.render(rows).forEach { print($0) }
    }
}
