import Foundation

/// The turns `DatabaseDesk` hands out: one holder per key at a time, the others served
/// in arrival order. A database's turn (`shop`) orders its restores, keeps, drops and
/// clones; the pool's turn of one snapshot (`poolKey`) orders every copy made into a
/// pool of it (the database's and its clones', one copy per turn), the snapshot's
/// retake, and the keyed snapshot `up` found current made current and restored: a
/// snapshot never replaces one a copy is being made of, and a copy made after it is of
/// the new one.
/// Unchecked: its state is guarded by its lock.
final class DatabaseTurns: @unchecked Sendable {
    private let lock = NSLock()
    private var held = Set<String>()
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    /// The turn of the pools of one snapshot (`template`: its database's name).
    static func poolKey(_ template: String) -> String { "pool " + template }

    /// Returns once the caller holds `key`.
    func acquire(_ key: String) async {
        if lock.withLock({ held.insert(key).inserted }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = lock.withLock { () -> Bool in
                if held.insert(key).inserted { return true }  // released meanwhile
                waiting[key, default: []].append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    /// Hands `key` to the next waiter, in arrival order.
    func release(_ key: String) {
        let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            guard var queue = waiting[key], !queue.isEmpty else {
                held.remove(key)
                return nil
            }
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            return next
        }
        next?.resume()
    }

    /// How many wait for `key`, its holder not counted. Only tests read it: they order
    /// a step after the ones queued before it without waiting on time.
    func waiters(for key: String) -> Int { lock.withLock { waiting[key]?.count ?? 0 } }
}
