import Foundation
import Synchronization

/// A clock only the test moves, which also says who is asleep on it and until when.
/// Its waits in real time default to 180 s: under the whole suite's load on 2 cores
/// (every in-process stack's spawns go through one spawner thread) a start or a probe's
/// look once took more than 60 s; a test that passes never waits that long.
/// A test that knows a loop has gone to sleep (its deadline is pending) can move the
/// clock without racing the loop's real work: every step waits for the sleep it
/// expects instead of for a fixed stretch of real time.
final class SteppedClock: _Concurrency.Clock, Sendable {
    typealias Duration = Swift.Duration

    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var id: Int
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Sleeper] = []
    }

    private let state = Mutex(State())

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    /// The deadlines of everything asleep on the clock, soonest first, as offsets from zero.
    var pending: [Duration] { state.withLock { $0.sleepers.map(\.deadline.offset).sorted() } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock to `offset` and wakes every sleeper whose deadline has come;
    /// returns the deadlines of those still asleep (read as they were woken).
    @discardableResult
    func advance(to offset: Duration) -> [Duration] {
        let (due, left) = state.withLock { state -> ([Sleeper], [Duration]) in
            state.now = Instant(offset: max(offset, state.now.offset))
            let due = state.sleepers.filter { $0.deadline <= state.now }
            state.sleepers.removeAll { $0.deadline <= state.now }
            return (due, state.sleepers.map(\.deadline.offset))
        }
        for sleeper in due { sleeper.continuation.resume() }
        return left
    }

    /// Moves the clock to `offset`, then waits (in real time, up to `limit`) until as
    /// many sleep as before: whatever woke has done its work and gone back to sleep.
    func step(to offset: Duration, within limit: Swift.Duration = .seconds(180)) async -> Bool {
        let before = pending.count
        advance(to: offset)
        return await until(within: limit) { pending.count >= before }
    }

    /// Waits (in real time, up to `limit`) until something new is asleep: a deadline
    /// beyond those in `known` (counted, so a second sleeper until the same moment is
    /// new too), and returns the soonest such deadline.
    func nextSleep(besides known: [Duration], within limit: Swift.Duration = .seconds(180)) async -> Duration? {
        var found: Duration?
        _ = await until(within: limit) {
            var left = known
            found = pending.first { deadline in
                guard let index = left.firstIndex(of: deadline) else { return true }
                left.remove(at: index)
                return false
            }
            return found != nil
        }
        return found
    }

    /// Waits (in real time, up to `limit`) until `count` sleepers (one by default) sleep
    /// until `deadline`.
    func sleeps(until deadline: Duration, count: Int = 1, within limit: Swift.Duration = .seconds(180)) async -> Bool {
        await until(within: limit) { pending.filter { $0 == deadline }.count >= count }
    }

    /// Moves the clock 5 ms every 2 ms of real time until the task is cancelled: for
    /// work that polls on the clock between the moments a test checks (a server's ready
    /// probe while it starts, the wait for a killed service's processes to be gone).
    func keepMoving() -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                advance(to: now.offset + .milliseconds(5))
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    private func until(within limit: Swift.Duration, _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}
