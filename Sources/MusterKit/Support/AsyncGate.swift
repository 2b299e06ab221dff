import Foundation

/// Runs async closures one at a time, in arrival order.
/// Unchecked: the busy flag and the queue are guarded by its lock.
final class AsyncGate: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false
    private var queue: [CheckedContinuation<Void, Never>] = []

    func run<T>(_ body: () async -> T) async -> T {
        await acquire()
        defer { release() }
        return await body()
    }

    private func acquire() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if busy {
                queue.append(continuation)
                lock.unlock()
            } else {
                busy = true
                lock.unlock()
                continuation.resume()
            }
        }
    }

    private func release() {
        lock.lock()
        if queue.isEmpty {
            busy = false
            lock.unlock()
        } else {
            let next = queue.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
