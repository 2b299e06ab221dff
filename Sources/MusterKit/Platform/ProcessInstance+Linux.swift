import CMusterShims
import Foundation

/// One process instance: a pid and the moment it started, so that a pid the kernel
/// has handed to another process since is never taken for it.
public struct ProcessInstance: Hashable, Sendable {
    public var pid: Int32
    /// Clock ticks since boot, from `/proc/PID/stat`.
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    public init(_ entry: ProcessInfoEntry) {
        self.init(pid: entry.pid, startTime: entry.startTime)
    }
}

extension ProcessTable {
    /// The instance running as `pid` now, if any.
    public static func instance(_ pid: Int32) -> ProcessInstance? {
        entry(pid).map(ProcessInstance.init)
    }

    /// Every process below `pid`: its children, theirs, and so on, zombies left out.
    /// Read from `/proc/PID/task/*/children`, so it costs a few small reads, never a
    /// scan of /proc. Postgres's children call `setsid()`, so a service's process
    /// group does not hold its whole tree: its descendants do.
    public static func descendants(of pid: Int32) -> [ProcessInfoEntry] {
        var found: [ProcessInfoEntry] = []
        var seen: Set<Int32> = [pid]
        var queue = [pid]
        while let parent = queue.popLast() {
            for child in children(of: parent) where seen.insert(child).inserted {
                guard let entry = entry(child), entry.state != "Z", entry.state != "X" else { continue }
                found.append(entry)
                queue.append(child)
            }
        }
        return found
    }

    /// Processes in any of these groups or sessions that are not gone yet, those on
    /// their way out included (`members(ofGroups:)` leaves those out).
    public static func present(inGroups groups: Set<Int32>) -> [ProcessInfoEntry] {
        let groups = groups.filter { $0 > 1 }
        guard !groups.isEmpty else { return [] }
        return allPids().compactMap(entry).filter {
            $0.state != "Z" && $0.state != "X" && (groups.contains($0.processGroup) || groups.contains($0.session))
        }
    }

    /// Gone: no process under its pid, another process under it, or a zombie. A process
    /// on its way out but not yet a zombie (PF_EXITING, or SIGKILLed while in
    /// uninterruptible sleep) is not gone: it may still hold memory, files and ports.
    public static func isGone(_ instance: ProcessInstance) -> Bool {
        guard let entry = entry(instance.pid), entry.startTime == instance.startTime else { return true }
        return entry.state == "Z" || entry.state == "X"
    }

    /// `pid 812 (postgres: checkpointer; stopped)`, for a line that says what is still there.
    public static func describe(_ instance: ProcessInstance) -> String {
        let entry = entry(instance.pid)
        let name = commandLine(instance.pid) ?? entry?.name ?? "?"
        let state = entry.map { describeState($0) } ?? "gone"
        return "pid \(instance.pid) (\(name); \(state))"
    }

    static func describeState(_ entry: ProcessInfoEntry) -> String {
        if entry.exiting { return "exiting" }
        switch entry.state {
        case "D": return "in uninterruptible sleep"
        case "T", "t": return "stopped"
        case "Z": return "a zombie"
        case "R": return "running"
        default: return "sleeping"
        }
    }

    /// Sends a signal to this instance only, through a pidfd: a pid reused by another
    /// process since is never hit. False when the instance is gone.
    @discardableResult
    public static func signal(_ instance: ProcessInstance, _ signal: Int32) -> Bool {
        muster_signal_instance(instance.pid, instance.startTime, signal) == 0
    }
}

/// SysV shared memory, as Postgres uses it to tell whether processes of an earlier
/// postmaster are still attached to its data directory.
public enum SharedMemorySegments {
    /// How many processes have the segment attached: 0 when none or when it is gone,
    /// nil when it cannot be read.
    public static func attachedCount(shmid: Int32) -> Int? {
        let count = muster_shm_attached(shmid)
        return count < 0 ? nil : Int(count)
    }
}
