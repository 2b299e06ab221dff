import Synchronization

/// The tasks of one owner (a runner's incarnation, or the runner itself) as children
/// of one task group: `cancelAll` cancels every one of them at once, and none outlives
/// the scope. A child can also be cancelled alone through the handle `launch` returns
/// (a timer disarmed, a probe stopped): it then races a token that the handle resolves.
final class TaskScope: Sendable {
    typealias Job = @Sendable () async -> Void
    private let jobs: AsyncStream<Job>.Continuation
    private let root: Task<Void, Never>

    init() {
        let (stream, jobs) = AsyncStream.makeStream(of: Job.self)
        self.jobs = jobs
        root = Task {
            await withDiscardingTaskGroup { group in
                for await job in stream { group.addTask { await job() } }
            }
        }
    }

    deinit {
        cancelAll()
    }

    /// Runs `body` as a child of the scope; the handle cancels it alone.
    @discardableResult
    func launch(_ body: @escaping Job) -> ScopedTask {
        let handle = ScopedTask()
        let result = jobs.yield {
            await withTaskGroup(of: Void.self) { race in
                race.addTask { await body() }
                race.addTask { await handle.cancelled() }
                await race.next()
                race.cancelAll()
            }
            handle.finish()
        }
        if case .terminated = result { handle.finish() }
        return handle
    }

    /// Cancels every child, and takes no new one.
    func cancelAll() {
        jobs.finish()
        root.cancel()
    }
}

/// One child of a `TaskScope`: cancelling it ends its body's wait (the body sees
/// `Task.isCancelled` and cancelled sleeps throw); `finished()` waits for its end.
final class ScopedTask: Sendable {
    private struct State {
        var cancelled = false
        var cancelWaiter: CheckedContinuation<Void, Never>?
        var done = false
        var doneWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func cancel() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.cancelled else { return nil }
            state.cancelled = true
            defer { state.cancelWaiter = nil }
            return state.cancelWaiter
        }
        waiter?.resume()
    }

    /// Returns once the body has ended (at once when it has, or never ran).
    func finished() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.done { return true }
                state.doneWaiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// The body ended (or will never run): wakes whoever waits for it.
    fileprivate func finish() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.done = true
            defer { state.doneWaiters = [] }
            return state.doneWaiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Returns once the handle is cancelled; also when the race's group is cancelled
    /// (the body ended, or the scope was cancelled).
    fileprivate func cancelled() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.cancelled { return true }
                    state.cancelWaiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            cancel()
        }
    }
}
