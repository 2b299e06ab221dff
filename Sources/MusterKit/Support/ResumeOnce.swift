import Foundation

/// Resumes a continuation once; later calls are ignored. Unchecked: the continuation
/// is only read and cleared under the lock.
public final class ResumeOnce<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?

    public init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = continuation }

    public func resume(_ value: sending T) {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume(returning: value)
    }
}
