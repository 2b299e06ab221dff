import Foundation

/// Settings of the development loop that come from the environment.
enum WatchOptions {
    /// `MUSTER_WATCH_LIMIT=N`: at most N kernel watches; folders past it are polled.
    /// For tests of the fallback, which cannot lower the kernel's own limit.
    static var simulatedLimit: Int? {
        ProcessInfo.processInfo.environment["MUSTER_WATCH_LIMIT"].flatMap { Int($0) }
    }
}
