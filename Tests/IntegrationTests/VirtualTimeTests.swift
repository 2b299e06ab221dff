import Foundation
import Testing
@testable import MusterKit

/// The services' timers (restart backoff, start timeout, stop escalation) on a clock the
/// test moves: real processes exit and ignore signals, but no test waits out a backoff.
/// Each step checks the timer has not fired a moment before its deadline and fires at it.
@Suite struct VirtualTimeTests {
    /// Lets the runner act on what the test just did (real processes, real actors). The
    /// waits for what must happen are bounded generously (a minute): the whole suite
    /// starts at once and the first seconds are crowded.
    static func settle() async throws { try await Task.sleep(for: .milliseconds(150)) }

    @Test func backoffDoublesToItsCapAndMaxRestartsEndsIt() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              crashy: { command: "sleep 0.05; exit 1", restart: on-failure, max_restarts: 9 }
            """)
        defer { stack.cleanup() }
        try await stack.start(timers: clock)
        // 100 ms doubling per failure in a row, up to 10 s: the last two wait 10 s each.
        let delays: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
            .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .seconds(10), .seconds(10),
        ]
        var failedAt: Duration = .zero
        for (index, delay) in delays.enumerated() {
            // The failure arms the backoff timer on the clock; the test moves it only then.
            #expect(await clock.sleeps(until: failedAt + delay), "failure \(index + 1) waits \(delay)")
            #expect(
                await eventually(within: .seconds(180)) { await stack.snapshot("crashy")?.phase == .backoff },
                "failure \(index + 1) waits in backoff")
            clock.advance(to: failedAt + delay - .milliseconds(1))
            try await Self.settle()
            #expect(await stack.snapshot("crashy")?.phase == .backoff, "restart \(index + 1) waits its whole \(delay)")
            #expect(await stack.snapshot("crashy")?.restarts == index)
            failedAt += delay
            clock.advance(to: failedAt)
            #expect(
                await eventually(within: .seconds(180)) { await stack.snapshot("crashy")?.restarts == index + 1 },
                "restart \(index + 1) after \(delay)")
        }
        // The tenth failure is one too many.
        #expect(await eventually(within: .seconds(180)) { await stack.snapshot("crashy")?.phase == .failed })
        #expect(await stack.snapshot("crashy")?.restarts == 9)
        _ = await stack.session?.stop()
    }

    @Test func aStartTimeoutFiresAtItsDeadline() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              slow: { command: "exec sleep 600", ready: { log: "never printed", start_timeout: 30s } }
            """)
        defer { stack.cleanup() }
        let start = Task { try await stack.start(timers: clock) }
        #expect(
            await eventually(within: .seconds(180)) {
                let snapshot = await stack.snapshot("slow")
                return snapshot?.phase == .starting && snapshot?.pid != nil
            })
        #expect(await clock.sleeps(until: .seconds(30)), "the start timeout is armed")
        clock.advance(to: .seconds(29))
        try await Self.settle()
        #expect(await stack.snapshot("slow")?.phase == .starting, "still waiting after 29 s of its 30")
        clock.advance(to: .seconds(30))
        let failure = await start.result
        guard case let .failure(error) = failure else { Issue.record("the start did not fail"); return }
        #expect("\(error)".contains("not ready after 30s"), "\(error)")
        #expect(await stack.snapshot("slow")?.phase == .failed)
        _ = await stack.session?.stop()
    }

    @Test func aStopThatIsIgnoredEscalatesToSIGKILLAtStopTimeout() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              stubborn:
                command: "trap '' TERM INT; echo ready; while :; do sleep 1; done"
                ready: { log: ready }
                stop_timeout: 20s
            """)
        defer { stack.cleanup() }
        try await stack.start(timers: clock)
        let session = try #require(stack.session)
        let stopping = Task { try await session.supervisor.stop(["stubborn"]) }
        #expect(await eventually(within: .seconds(180)) { await stack.snapshot("stubborn")?.phase == .stopping })
        let pid = try #require(await stack.snapshot("stubborn")?.pid)
        #expect(await clock.sleeps(until: .seconds(20)), "SIGTERM arms the stop timeout")
        clock.advance(to: .milliseconds(19_900))
        try await Self.settle()
        #expect(await stack.snapshot("stubborn")?.phase == .stopping, "SIGTERM is ignored; SIGKILL waits for 20 s")
        #expect(ProcessTable.isAlive(pid))
        clock.advance(to: .seconds(20))
        // SIGKILL is sent; the wait for every process of it to be gone polls on the clock.
        let release = clock.keepMoving()
        _ = try await stopping.value
        release.cancel()
        #expect(await stack.snapshot("stubborn")?.phase == .stopped, "stop answers once its state says so")
        #expect(!ProcessTable.isAlive(pid))
        let reasons = stack.events().compactMap { $0.reason }
        #expect(reasons.contains { $0.contains("did not stop within 20s of SIGTERM; sent SIGKILL") }, "\(reasons)")
        _ = await session.stop()
    }
}
