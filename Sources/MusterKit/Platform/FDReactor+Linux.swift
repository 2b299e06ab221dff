import CMusterShims
import Foundation

/// One thread and one epoll set that watch every service pipe and notify socket.
///
/// libdispatch's read sources on Linux can free their epoll bookkeeping while an
/// event for it is still pending when sources are registered and cancelled
/// concurrently (swift-corelibs-libdispatch issue 949), which crashes the manager
/// thread; swift-subprocess left DispatchIO on Linux for the same reason. Services
/// start and stop all the time here, so muster owns its epoll loop instead.
///
/// Registrations are keyed by a token, never by descriptor number: an event
/// still in flight for a removed registration finds no handler and is dropped,
/// even if the number was reused a moment later.
/// Unchecked: registrations are guarded by its lock; the epoll thread owns the loop.
final class FDReactor: @unchecked Sendable {
    static let shared = FDReactor()

    /// Called on the reactor thread when the descriptor is readable (or hung up).
    /// Returning false removes the registration and closes the descriptor.
    typealias Handler = () -> Bool

    private let epoll: Int32
    private let lock = NSLock()
    private var handlers: [UInt64: (fd: Int32, handler: Handler)] = [:]
    private var nextToken: UInt64 = 1
    private var thread: Thread?

    private init() {
        epoll = muster_epoll_create()
    }

    /// Watches `fd` (level-triggered) until `remove` or the handler returns false.
    func add(_ fd: Int32, handler: @escaping Handler) -> UInt64 {
        startIfNeeded()
        lock.lock()
        let token = nextToken
        nextToken += 1
        handlers[token] = (fd, handler)
        lock.unlock()
        if muster_epoll_add(epoll, fd, token) != 0 {
            lock.lock()
            handlers[token] = nil
            lock.unlock()
            return 0
        }
        return token
    }

    /// Stops watching; the caller still owns (and closes) the descriptor.
    func remove(_ token: UInt64) {
        lock.lock()
        let entry = handlers.removeValue(forKey: token)
        lock.unlock()
        if let entry { muster_epoll_del(epoll, entry.fd) }
    }

    private func startIfNeeded() {
        lock.lock()
        defer { lock.unlock() }
        guard thread == nil else { return }
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "muster-io"
        self.thread = thread
        thread.start()
    }

    private func loop() {
        var tokens = [UInt64](repeating: 0, count: 64)
        while true {
            let count = muster_epoll_wait(epoll, &tokens, Int32(tokens.count))
            if count < 0 { return }
            for index in 0..<Int(count) {
                let token = tokens[index]
                lock.lock()
                let entry = handlers[token]
                lock.unlock()
                guard let entry else { continue }  // removed while in flight
                if !entry.handler() {
                    remove(token)
                    close(entry.fd)
                }
            }
        }
    }
}
