import CMusterShims
import Foundation

/// Keeps the promise that no service outlives muster, even a SIGKILLed muster.
///
/// `PR_SET_PDEATHSIG` kills each service's leader, but not its children. The guardian
/// is a tiny forked process in its own session that holds the read end of a pipe;
/// muster registers each service's process group on it. When muster dies, the kernel
/// closes the write end, the guardian reads EOF and SIGKILLs every registered group.
/// Unchecked: the pipe to the guardian is written under its lock.
public final class Guardian: @unchecked Sendable {
    public static let shared = Guardian()

    private let lock = NSLock()
    private var writeFD: Int32 = -1
    public private(set) var pid: pid_t = 0

    private init() {}

    /// Starts the guardian once per muster process.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard writeFD < 0 else { return }
        var fds: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&fds) == 0 else { return }
        ProcessReaper.shared.forkBegins()
        let child = muster_start_guardian(fds[0])
        ProcessReaper.shared.forkEnded(child)
        close(fds[0])
        guard child > 0 else {
            close(fds[1])
            return
        }
        pid = child
        writeFD = fds[1]
    }

    public func register(group: pid_t) { send("+\(group)\n") }
    public func unregister(group: pid_t) { send("-\(group)\n") }

    private func send(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        guard writeFD >= 0 else { return }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(writeFD, $0.baseAddress, $0.count) }
    }
}
