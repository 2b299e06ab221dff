import Foundation

/// What a monitor noticed about a running service.
public enum MonitorFinding: Sendable, Equatable {
    /// The running instance changed without an exit muster saw: restarted in place
    /// (same pid, new identity) or by something other than muster.
    /// `since`: when a check last saw the old identity (nil: the runner uses its
    /// previous look), so the restart is known to lie in `[since, now]`.
    case restartDetected(reason: String, previousPid: Int32?, since: Date? = nil)
    /// Worth telling, not a failure (Postgres connections above 80 % of the limit).
    case warning(String)
}

/// Watches a ready service for what no exit status shows. One instance lives for
/// one incarnation: a restart muster causes starts a fresh monitor, so only
/// changes muster did not cause are reported.
public protocol ServiceMonitor: AnyObject, Sendable {
    /// How often `sample` runs.
    var interval: Duration { get }
    /// One look at the service whose process-group leader is `leader`, sent at `look`
    /// (the runner's timebase): what it finds held at least until then.
    func sample(leader: Int32, at look: Date) async -> [MonitorFinding]
    /// Releases connections; called when the incarnation ends.
    func close()
}

extension ServiceMonitor {
    public func close() {}
}

/// Makes a fresh monitor for each incarnation.
public typealias MonitorFactory = @Sendable () -> any ServiceMonitor

/// Remembers the last identity seen, and when, and says when it changes.
struct IdentityTracker {
    private(set) var current: String?
    /// When a check last saw `current`.
    private(set) var seenAt: Date?
    /// After a change: when a check last saw the identity before it (the `since` of the restart).
    private(set) var previousSeenAt: Date?

    /// The previous identity when `identity` differs from it.
    mutating func observe(_ identity: String, at now: Date) -> String? {
        defer { current = identity; seenAt = now }
        guard let current, current != identity else { return nil }
        previousSeenAt = seenAt
        return current
    }
}

/// The identity of the service's main process through /proc, for every service:
/// the group leader, or, when the leader is a shell wrapping one long-lived
/// program (`sh -c "while true; do app; done"`), that program. A new pid or
/// start time there is a restart muster did not cause.
///
/// - Important: only children alive for a second or more count, so shells that
///   run short commands in a loop never look like restarts; and a change counts
///   only when the previous main process is gone.
/// Unchecked: one monitoring task calls it, one check after another.
public final class ProcessIdentityMonitor: ServiceMonitor, @unchecked Sendable {
    public let interval: Duration
    private var main: ProcessInfoEntry?
    /// When a look last found `main` as the main process.
    private var mainSeenAt: Date?
    static let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ash", "busybox"]
    /// Programs a shell loop waits in between its real work (`while true; do work; sleep 5; done`):
    /// never the service's main process, or every turn of the loop would look like a restart.
    static let pauses: Set<String> = ["sleep"]

    public init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    public func sample(leader: Int32, at look: Date) async -> [MonitorFinding] {
        guard let found = Self.mainProcess(of: leader) else { return [] }
        let now = look
        let lastSeen = mainSeenAt
        defer { main = found; mainSeenAt = now }
        guard let main, main.pid != found.pid || main.startTime != found.startTime else { return [] }
        // The old one still runs: we only looked deeper into the wrapper, nothing restarted.
        if let old = ProcessTable.entry(main.pid), old.isAlive, old.startTime == main.startTime { return [] }
        return [
            .restartDetected(
                reason:
                    "its main process changed from pid \(main.pid) (\(main.name)) to pid \(found.pid) (\(found.name))",
                previousPid: main.pid, since: lastSeen)
        ]
    }

    static func mainProcess(of leader: Int32) -> ProcessInfoEntry? {
        guard var entry = ProcessTable.entry(leader), entry.isAlive else { return nil }
        for _ in 0..<4 where shells.contains(entry.name) {
            let children = ProcessTable.children(of: entry.pid)
            guard children.count == 1, let child = ProcessTable.entry(children[0]), child.isAlive,
                !pauses.contains(child.name), ProcessTable.age(of: child) >= 1
            else { break }
            entry = child
        }
        return entry
    }
}
