import Foundation

/// Runs blocking work (sockets, a Postgres login, a lock) on a thread of its own, off
/// Swift's small cooperative pool, which blocking calls would starve.
///
/// - Important: not on `DispatchQueue.global()`: on Linux its threads are capped near
///   the number of cores and libdispatch cannot tell a thread blocked in a syscall from
///   a busy one, so two probes stalled by a hostile peer held up every other probe and
///   restart monitor of the stack. A thread costs tens of microseconds to start, which
///   is nothing beside the network round trip it waits for.
public func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = "muster-blocking"
        thread.stackSize = 1 << 20
        thread.start()
    }
}
