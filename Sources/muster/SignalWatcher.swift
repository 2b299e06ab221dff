import Foundation
import UnixSignals

/// Counts SIGINT, SIGTERM and SIGHUP, delivered by swift-service-lifecycle's
/// `UnixSignalsSequence`; callers wait for the first, the second, ...
/// Unchecked: the count and the waiters are guarded by its lock.
final class SignalWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    private var listener: Task<Void, Never>?

    init() {
        // Ignored at once, before the sequence is set up: muster decides what a signal does.
        for number in [SIGINT, SIGTERM, SIGHUP] { signal(number, SIG_IGN) }
        listener = Task { [weak self] in
            for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup) { self?.fire() }
        }
    }

    var received: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    private func fire() {
        lock.lock()
        count += 1
        let due = waiters.filter { $0.0 <= count }
        waiters.removeAll { $0.0 <= count }
        lock.unlock()
        due.forEach { $0.1.resume() }
    }

    /// Returns once `number` signals have arrived in all.
    func wait(for number: Int = 1) async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if count >= number {
                lock.unlock()
                continuation.resume()
                return
            }
            waiters.append((number, continuation))
            lock.unlock()
        }
    }
}
