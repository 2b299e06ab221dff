import Foundation
import MusterKit

/// `--cache DIR` on `up` and `run`: the snapshot cache (`SnapshotCache`), as
/// `MUSTER_CACHE_DIR` for everything this command starts. The folder, from either,
/// is made and checked writable before anything starts (else one line, exit 2).
enum CacheOption {
    static let help =
        "Keep migrated Postgres clusters here, one per snapshot key, and start from them (also MUSTER_CACHE_DIR)."

    static func apply(_ option: String?) throws {
        if let option {
            guard !option.isEmpty else {
                throw MusterError(.usage, "--cache needs a folder, as in --cache .muster-cache")
            }
            let absolute = option.hasPrefix("/") ? option : FileManager.default.currentDirectoryPath + "/" + option
            setenv("MUSTER_CACHE_DIR", absolute, 1)
        }
        guard let directory = SnapshotCache.directory(ProcessInfo.processInfo.environment) else { return }
        setenv("MUSTER_CACHE_DIR", directory, 1)  // absolute for the supervisor, whatever its folder
        try SnapshotCache.prepare(directory, option: option == nil ? "MUSTER_CACHE_DIR" : "--cache")
    }
}
