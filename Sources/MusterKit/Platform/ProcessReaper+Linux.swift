import CMusterShims
import Foundation

/// Collects every child of muster on one thread with `waitid(P_ALL)` and hands each
/// exit to whoever waits for that pid. With the subreaper flag set, orphaned
/// grandchildren are reaped here too, so no zombie outlives its service.
///
/// - Important: nothing else in muster may call `waitpid`; spawn only through
///   `ProcessSpawner`, never through Foundation.Process.
/// Unchecked: statuses and waiters are guarded by its NSCondition.
public final class ProcessReaper: @unchecked Sendable {
    public static let shared = ProcessReaper()

    private let condition = NSCondition()
    private var generation = 0
    private var statuses: [pid_t: ExitStatus] = [:]
    private var waiters: [pid_t: [CheckedContinuation<ExitStatus, Never>]] = [:]
    /// Exits of pids nobody tracked yet (they may be tracked right after fork).
    private var untracked: [(pid_t, ExitStatus)] = []
    private var tracked = Set<pid_t>()
    private var thread: Thread?

    private init() {}

    func startIfNeeded() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        _ = muster_set_child_subreaper_wrapper()
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "muster-reaper"
        thread.stackSize = 256 * 1024
        self.thread = thread
        thread.start()
    }

    /// Called by the spawner right after fork, before anyone can wait for the pid.
    func track(_ pid: pid_t) {
        condition.lock()
        tracked.insert(pid)
        if let index = untracked.firstIndex(where: { $0.0 == pid }) {
            statuses[pid] = untracked.remove(at: index).1
        }
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for a tracked child to exit and returns how it ended.
    public func exitStatus(of pid: pid_t) async -> ExitStatus {
        await withCheckedContinuation { continuation in
            condition.lock()
            if let status = statuses[pid] {
                condition.unlock()
                continuation.resume(returning: status)
                return
            }
            waiters[pid, default: []].append(continuation)
            condition.unlock()
        }
    }

    /// The exit status if the child has already been reaped.
    public func statusIfExited(_ pid: pid_t) -> ExitStatus? {
        condition.lock()
        defer { condition.unlock() }
        return statuses[pid]
    }

    /// Forgets a finished pid once its owner has seen the exit (pids are reused).
    public func forget(_ pid: pid_t) {
        condition.lock()
        statuses[pid] = nil
        tracked.remove(pid)
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            let seen = generation
            condition.unlock()

            var info = siginfo_t()
            let result = waitid(P_ALL, 0, &info, WEXITED)
            if result != 0 {
                if errno == EINTR { continue }
                // No children right now: sleep until the spawner forks one.
                condition.lock()
                while generation == seen { condition.wait() }
                condition.unlock()
                continue
            }
            let pid = info._sifields._sigchld.si_pid
            let code = info._sifields._sigchld.si_status
            let status: ExitStatus = info.si_code == CLD_EXITED ? .exited(code) : .signaled(code)
            condition.lock()
            if tracked.contains(pid) {
                statuses[pid] = status
                let resumed = waiters.removeValue(forKey: pid) ?? []
                condition.unlock()
                for waiter in resumed { waiter.resume(returning: status) }
            } else {
                untracked.append((pid, status))
                if untracked.count > 4096 { untracked.removeFirst(untracked.count - 4096) }
                condition.unlock()
            }
        }
    }
}

@inline(__always) func muster_set_child_subreaper_wrapper() -> Int32 {
    muster_set_child_subreaper()
}
