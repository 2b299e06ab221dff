import Foundation

/// Counts SIGINT, SIGTERM and SIGHUP; callers wait for the first, the second, ...
final class SignalWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
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
