import CMusterShims
import Foundation

/// Collects every child of muster on one thread and hands each exit to whoever waits
/// for that pid. With the subreaper flag set, orphaned grandchildren are reaped here
/// too, so no zombie outlives its service.
///
/// A pid is reused once its process is reaped, so an exit is only ever given to a
/// child forked before it: the reaper first looks at a zombie without reaping it
/// (`WNOWAIT`: its pid stays taken), and while a fork is under way it waits for that
/// fork's pid before it decides whether the zombie is one of muster's. An earlier
/// version kept the exits of unknown pids for a later `track`; under load a new child
/// that got such a pid was taken for exited at once (a `down` "returned 0" while it ran).
///
/// Left: between handing an exit over and its owner's `forget`, the pid is free. A
/// child forked into it in that moment would see the old exit (or lose its tracking to
/// the late `forget`); that takes the pid space wrapping within milliseconds. A handle
/// per spawn, instead of a bare pid, would close it.
///
/// - Important: nothing else in muster may call `waitpid` on a tracked child; spawn
///   only through `ProcessSpawner` (or call `forkBegins`/`forkEnded` around the fork),
///   never through Foundation.Process.
/// Unchecked: statuses and waiters are guarded by its NSCondition.
public final class ProcessReaper: @unchecked Sendable {
    public static let shared = ProcessReaper()

    private let condition = NSCondition()
    private var generation = 0
    private var statuses: [pid_t: ExitStatus] = [:]
    private var waiters: [pid_t: [CheckedContinuation<ExitStatus, Never>]] = [:]
    private var tracked = Set<pid_t>()
    /// Forks begun whose pid is not tracked yet.
    private var forking = 0
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

    /// Called by the spawner right before it forks.
    func forkBegins() {
        condition.lock()
        forking += 1
        generation += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Called by the spawner right after the fork, with the child's pid (0 or less
    /// when no child was made), before anyone can wait for it.
    func forkEnded(_ pid: pid_t) {
        condition.lock()
        if pid > 0 { tracked.insert(pid) }
        forking -= 1
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

            // A look, not a reap: the zombie keeps its pid, so no new child can have it.
            var info = siginfo_t()
            if waitid(P_ALL, 0, &info, WEXITED | WNOWAIT) != 0 {
                if errno == EINTR { continue }
                // No children right now: sleep until the spawner forks one.
                condition.lock()
                while generation == seen { condition.wait() }
                condition.unlock()
                continue
            }
            let pid = info._sifields._sigchld.si_pid
            condition.lock()
            // It may be the child of a fork under way: decide once that fork is tracked.
            while forking > 0, !tracked.contains(pid) { condition.wait() }
            var reaped = siginfo_t()
            let gone =
                waitid(P_PID, id_t(pid), &reaped, WEXITED | WNOHANG) == 0 && reaped._sifields._sigchld.si_pid == pid
            guard gone, tracked.contains(pid) else {
                condition.unlock()  // an orphan of a service, or reaped by its own spawner: no one waits
                continue
            }
            let code = reaped._sifields._sigchld.si_status
            let status: ExitStatus = reaped.si_code == CLD_EXITED ? .exited(code) : .signaled(code)
            statuses[pid] = status
            let resumed = waiters.removeValue(forKey: pid) ?? []
            condition.unlock()
            for waiter in resumed { waiter.resume(returning: status) }
        }
    }
}

@inline(__always) func muster_set_child_subreaper_wrapper() -> Int32 {
    muster_set_child_subreaper()
}
