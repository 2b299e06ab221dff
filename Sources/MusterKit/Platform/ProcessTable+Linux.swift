import CMusterShims
import Foundation

/// What `/proc/PID/stat` says about a process. Liveness is read here, never with
/// `kill(pid, 0)`, which answers for zombies too.
public struct ProcessInfoEntry: Sendable, Equatable {
    public var pid: Int32
    public var state: Character
    public var ppid: Int32
    public var processGroup: Int32
    public var session: Int32
    /// Clock ticks since boot: with the pid, the identity of one process instance.
    public var startTime: UInt64
    /// The program name (`comm`), at most 15 characters.
    public var name: String = ""
    /// Already exiting (PF_EXITING): its descriptors are closed and it is about to
    /// be a zombie. A leak check must not count it, nor kill it as a survivor.
    public var exiting = false

    public var isAlive: Bool { state != "Z" && state != "X" && !exiting }
}

public enum ProcessTable {
    public static func entry(_ pid: Int32) -> ProcessInfoEntry? {
        // Parsed in C without allocating: every stop and every leak check scans /proc.
        var stat = muster_proc_stat()
        guard muster_read_stat(pid, &stat) == 0 else { return nil }
        let name = withUnsafeBytes(of: stat.name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return ProcessInfoEntry(
            pid: stat.pid, state: Character(Unicode.Scalar(UInt8(bitPattern: stat.state))),
            ppid: stat.ppid, processGroup: stat.pgrp, session: stat.session,
            startTime: stat.start_time, name: name, exiting: stat.exiting != 0)
    }

    public static func isAlive(_ pid: Int32) -> Bool {
        entry(pid)?.isAlive ?? false
    }

    /// Waits until `pid` has exited (zombies count as gone): woken by a pidfd the
    /// moment it exits, or, where pidfds are missing, by polling /proc every 2 ms.
    public static func waitForExit(_ pid: Int32, within limit: Duration) -> Bool {
        let deadline = ContinuousClock.now + limit
        while isAlive(pid) {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return false }
            switch muster_wait_for_exit(pid, Int32(clamping: max(1, left.milliseconds))) {
            case 1: return true
            case 0: return !isAlive(pid)
            default: usleep(2_000)
            }
        }
        return true
    }

    public static func allPids() -> [Int32] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var pids: [Int32] = []
        while let item = readdir(directory) {
            let pid = withUnsafePointer(to: item.pointee.d_name) { name in
                name.withMemoryRebound(to: CChar.self, capacity: 256) { atoi($0) }
            }
            if pid > 0 { pids.append(pid) }
        }
        return pids
    }

    /// Live processes in a process group or session (a service's whole tree).
    public static func members(ofGroup group: Int32) -> [ProcessInfoEntry] {
        members(ofGroups: [group])
    }

    /// Live processes in any of these groups or sessions, in one pass over /proc:
    /// checking many groups one by one would read /proc once per group.
    public static func members(ofGroups groups: Set<Int32>) -> [ProcessInfoEntry] {
        let groups = groups.filter { $0 > 1 }
        guard !groups.isEmpty else { return [] }
        return allPids().compactMap(entry).filter {
            $0.isAlive && (groups.contains($0.processGroup) || groups.contains($0.session))
        }
    }

    /// Direct children of a process, from `/proc/PID/task/*/children` (cheap: no scan of /proc).
    public static func children(of pid: Int32) -> [Int32] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
        return tasks.flatMap { task -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }

    /// Seconds a process has been running.
    public static func age(of entry: ProcessInfoEntry) -> Double {
        guard let uptime = (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))?.split(separator: " ").first,
            let seconds = Double(uptime)
        else { return 0 }
        return seconds - Double(entry.startTime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public static func commandLine(_ pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return nil }
        let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return parts.joined(separator: " ")
    }

    /// Sends a signal to every live member of a group or session, leader included.
    @discardableResult
    public static func signalGroup(_ group: Int32, _ signal: Int32) -> Int {
        guard group > 1 else { return 0 }
        _ = kill(-group, signal)
        let stragglers = members(ofGroup: group)
        for member in stragglers where member.processGroup != group {
            _ = kill(member.pid, signal)
        }
        return stragglers.count
    }
}
