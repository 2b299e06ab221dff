import Foundation

/// A probe that is told, not polled: a `log` line matched, or `READY=1` arrived on
/// the notify socket. `wait()` returns as soon as `fire()` is called.
/// Unchecked: its state is read and written only under its lock.
public final class SignalProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func fire() {
        lock.lock()
        guard !fired else { lock.unlock(); return }
        fired = true
        let pending = waiters
        waiters = []
        lock.unlock()
        pending.forEach { $0.resume() }
    }

    public var hasFired: Bool {
        lock.lock()
        defer { lock.unlock() }
        return fired
    }

    public func wait() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if fired {
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
    }

    /// A line observer for the output pump that fires on the first match.
    public func logMatcher(_ regex: NSRegularExpression) -> (Substring) -> Void {
        { [weak self] line in
            guard let self, !self.hasFired else { return }
            let text = String(line)
            if regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil { self.fire() }
        }
    }
}

/// The systemd notify protocol: a datagram socket whose path the service finds in
/// `$NOTIFY_SOCKET`; a datagram holding the line `READY=1` means ready.
/// Unchecked: the socket is made once; its handler state is guarded by its lock.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private var token: UInt64 = 0
    private let lock = NSLock()
    private var closed = false

    public init(path: String, probe: SignalProbe) throws {
        unlink(path)
        let fd = Descriptors.openSocket(family: AF_UNIX, type: Descriptors.datagramSocket)
        guard fd >= 0 else {
            throw MusterError(.environment, "cannot create notify socket: \(String(cString: strerror(errno)))")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            POSIX.close(fd)
            throw MusterError(.environment, "notify socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            POSIX.close(fd)
            throw MusterError(.environment, "cannot bind notify socket \(path): \(reason)")
        }
        self.path = path
        self.fd = fd
        token = FDReactor.shared.add(fd) {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard count > 0 else { return true }
                let text = String(decoding: buffer[0..<count], as: UTF8.self)
                if text.split(separator: "\n").contains("READY=1") { probe.fire() }
            }
        }
    }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return }
        closed = true
        FDReactor.shared.remove(token)
        POSIX.close(fd)
        unlink(path)
    }
}
