import Foundation
import Testing
@testable import MusterKit

/// Probes and the stop command's grace on a clock the test moves: real processes run
/// the probes, but when each look happens is the injected clock's alone. Each step
/// checks nothing happens a moment before it is due, and that it happens when due.
@Suite struct VirtualTimeProbeTests {
    static func lines(_ path: String) -> Int {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// The ready probe's next look is due a tenth of the time already waited, at least
    /// 5 ms and at most the probe's interval. Each step waits until the loop is asleep
    /// (its deadline is pending on the clock), so no step races the look's real work;
    /// the deadline it sleeps until is the schedule, and the number of looks so far
    /// shows no look came without a sleep.
    @Test func theReadyProbeBacksOffWithTheTimeAlreadyWaited() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              slow:
                command: "exec sleep 600"
                ready: { exec: "echo look >> looks; test -f ready", interval: 1s, start_timeout: 10m }
            """)
        defer { stack.cleanup() }
        let looks = stack.directory + "/looks"
        let start = Task { try await stack.start(timers: clock) }
        // The start timeout sleeps on the clock too; the new sleep after a look is the probe's.
        var asleep: [Duration] = [.seconds(600)]
        func nextLook(
            _ expected: Duration, after count: Int, _ comment: Comment,
            sourceLocation: Testing.SourceLocation = #_sourceLocation
        ) async throws {
            // What was asleep and the looks so far say why, when it fails.
            let due = try #require(
                await clock.nextSleep(besides: asleep),
                "the probe went to sleep (\(comment); asleep: \(clock.pending), looks: \(Self.lines(looks)))",
                sourceLocation: sourceLocation)
            #expect(
                max(due - expected, expected - due) < .microseconds(1), "\(comment): due at \(due)",
                sourceLocation: sourceLocation)
            #expect(Self.lines(looks) == count, "looks so far", sourceLocation: sourceLocation)
        }
        // The first look at once; then the floor, 5 ms, while little time has passed.
        try await nextLook(.milliseconds(5), after: 1, "the second look waits the 5 ms floor")
        asleep = clock.advance(to: .milliseconds(5))
        try await nextLook(.milliseconds(10), after: 2, "still the floor after 5 ms")
        // After 2 s of waiting, a tenth of that: 200 ms; after 2.2 s, 220 ms.
        asleep = clock.advance(to: .seconds(2))
        try await nextLook(.milliseconds(2200), after: 3, "200 ms after 2 s of waiting")
        asleep = clock.advance(to: .milliseconds(2200))
        try await nextLook(.milliseconds(2420), after: 4, "220 ms after 2.2 s")
        // After 30 s, capped at the probe's interval: 1 s, not 3.
        asleep = clock.advance(to: .seconds(30))
        try await nextLook(.seconds(31), after: 5, "the interval caps the wait")
        #expect(await stack.snapshot("slow")?.phase == .starting)
        // Ready at the next look, and the stack's start returns.
        _ = FileManager.default.createFile(atPath: stack.directory + "/ready", contents: nil)
        clock.advance(to: .seconds(31))
        try await start.value
        #expect(Self.lines(looks) == 6)
        #expect(await stack.snapshot("slow")?.phase == .ready)
        await stack.finish()
    }

    @Test func theAliveProbeCountsFailuresInARowOnTheInjectedClock() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              app:
                command: "exec sleep 600"
                alive: { exec: "echo look >> looks; test -f healthy", interval: 1s, failures: 3 }
            """)
        defer { stack.cleanup() }
        let looks = stack.directory + "/looks"
        try await stack.start(timers: clock)
        // Each step moves the clock and waits until what it woke (the alive probe, and
        // whatever else sleeps until the same moment) has looked and gone back to sleep.
        // Two sleep until 1 s once the service is ready: the alive probe and the process
        // monitor (its first look is at once), each on a 1 s interval.
        try #require(
            await clock.sleeps(until: .seconds(1), count: 2),
            "the alive probe waits for its first look: \(clock.pending)")
        clock.advance(to: .milliseconds(999))
        try await VirtualTimeTests.settle()
        #expect(Self.lines(looks) == 0, "the first look waits its whole interval")
        for look in 1...2 {
            #expect(await clock.step(to: .seconds(look)), "look \(look) done")
            #expect(Self.lines(looks) == look)
            #expect(await stack.snapshot("app")?.available == true, "\(look) failure(s) of 3 change nothing")
        }
        #expect(await clock.step(to: .seconds(3)))
        #expect(
            await eventually(within: .seconds(180)) { await stack.snapshot("app")?.available == false },
            "the third failure in a row")
        #expect(Self.lines(looks) == 3)
        // One more failure, then healthy: available at the next look, 2 s (virtual) after
        // it became unavailable, and the event says so.
        #expect(await clock.step(to: .seconds(4)))
        #expect(Self.lines(looks) == 4)
        _ = FileManager.default.createFile(atPath: stack.directory + "/healthy", contents: nil)
        #expect(await clock.step(to: .seconds(5)))
        #expect(await eventually(within: .seconds(180)) { await stack.snapshot("app")?.available == true })
        let available = stack.events().last { $0.type == .available }
        #expect(available?.durationMs == 2000, "measured on the injected clock: \(String(describing: available))")
        await stack.finish()
    }

    @Test func anIgnoredStopCommandWaitsItsGraceOnTheInjectedClock() async throws {
        let clock = SteppedClock()
        let stack = try TestStack(
            """
            services:
              cache: { engine: redis, port: auto, stop_timeout: 20s }
            """)
        defer { stack.cleanup() }
        // Redis's ready probe looks on the test's clock too: time moves in 5 ms steps until it is up.
        let driver = clock.keepMoving()
        try await stack.start(timers: clock)
        driver.cancel()
        _ = await driver.result
        let session = try #require(stack.session)
        let pid = try #require(await stack.snapshot("cache")?.pid)
        // A stopped Redis accepts the connection but never answers SHUTDOWN.
        kill(pid, SIGSTOP)
        // One step off the restart monitor's beat: its next look would otherwise fall due at
        // the very moment the grace does (both a whole second ahead), and the stop cancels it.
        clock.advance(to: clock.now.offset + .milliseconds(1))
        let base = clock.now.offset
        func sleepers(until deadline: Duration) -> Int { clock.pending.filter { $0 == deadline }.count }
        let graceDue = base + .seconds(1)
        let timeoutDue = base + .milliseconds(21_000)
        let alreadyAtGrace = sleepers(until: graceDue)
        let alreadyAtTimeout = sleepers(until: timeoutDue)
        let stopping = Task { try await session.supervisor.stop(["cache"]) }
        func warnings() -> [String] {
            stack.events().filter { $0.type == .warning }.compactMap { $0.reason }
        }
        // The command's own answer limit is real time (a socket read); its grace is the
        // clock's. Redis's restart monitor sleeps on the clock too (every 500 ms), so each
        // step waits for the deadline it expects rather than for any new sleep.
        try #require(
            await clock.sleeps(until: graceDue, count: alreadyAtGrace + 1), "the grace is 1 s: \(clock.pending)")
        clock.advance(to: base + .milliseconds(999))
        try await VirtualTimeTests.settle()
        #expect(!warnings().contains { $0.contains("SHUTDOWN brought no exit") }, "the grace is 1 s: \(warnings())")
        clock.advance(to: base + .seconds(1))
        #expect(
            await eventually(within: .seconds(180)) {
                warnings().contains { $0.contains("SHUTDOWN brought no exit within 1s; sent SIGTERM") }
            })
        // SIGTERM waits for a stopped process; SIGKILL does not, after the stop timeout.
        try #require(
            await clock.sleeps(until: timeoutDue, count: alreadyAtTimeout + 1),
            "the stop timeout counts from SIGTERM: \(clock.pending)")
        clock.advance(to: base + .milliseconds(20_099))
        try await VirtualTimeTests.settle()
        #expect(await stack.snapshot("cache")?.phase == .stopping)
        clock.advance(to: base + .milliseconds(20_100))
        // SIGKILL is sent; the wait for every process of it to be gone polls on the clock.
        let release = clock.keepMoving()
        _ = try await stopping.value
        release.cancel()
        #expect(await stack.snapshot("cache")?.phase == .stopped, "stop answers once its state says so")
        #expect(!ProcessTable.isAlive(pid))
        _ = await session.stop()
    }
}
