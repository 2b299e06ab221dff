import Clocks
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

    /// A step of virtual time that must bring no look: the clock moves, the runner gets
    /// time to act, the count must not have moved.
    static func quiet(
        _ clock: TestClock<Duration>, _ step: Duration, _ file: String, stays count: Int,
        _ comment: Comment, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        await clock.advance(by: step)
        try await VirtualTimeTests.settle()
        #expect(lines(file) == count, comment, sourceLocation: sourceLocation)
    }

    /// Waits until the file has `count` looks, then lets the runner reach its next
    /// sleep before the test moves the clock again: the look's shell has written its
    /// line, but its exit is still to be reaped and reported, which on a machine busy
    /// with the whole suite can take a few hundred milliseconds of real time.
    static func seen(
        _ file: String, _ count: Int, _ comment: Comment = "",
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        #expect(
            await eventually(within: .seconds(60)) { lines(file) == count }, comment, sourceLocation: sourceLocation)
        try await Task.sleep(for: .seconds(1))
    }

    @Test func theAliveProbeCountsFailuresInARowOnTheInjectedClock() async throws {
        let clock = TestClock()
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
        for look in 1...2 {
            try await Self.quiet(
                clock, .milliseconds(999), looks, stays: look - 1, "look \(look) waits its whole interval")
            await clock.advance(by: .milliseconds(1))
            try await Self.seen(looks, look)
            #expect(await stack.snapshot("app")?.available == true, "\(look) failure(s) of 3 change nothing")
        }
        await clock.advance(by: .seconds(1))
        #expect(
            await eventually(within: .seconds(60)) { await stack.snapshot("app")?.available == false },
            "the third failure in a row")
        try await Self.seen(looks, 3)
        // One more failure, then healthy: available at the next look, 2 s (virtual) after
        // it became unavailable, and the event says so.
        await clock.advance(by: .seconds(1))
        try await Self.seen(looks, 4)
        _ = FileManager.default.createFile(atPath: stack.directory + "/healthy", contents: nil)
        await clock.advance(by: .seconds(1))
        #expect(await eventually(within: .seconds(60)) { await stack.snapshot("app")?.available == true })
        let available = stack.events().last { $0.type == .available }
        #expect(available?.durationMs == 2000, "measured on the injected clock: \(String(describing: available))")
        _ = await stack.session?.stop()
    }

    @Test func anIgnoredStopCommandWaitsItsGraceOnTheInjectedClock() async throws {
        let clock = TestClock()
        let stack = try TestStack(
            """
            services:
              cache: { engine: redis, port: auto, stop_timeout: 20s }
            """)
        defer { stack.cleanup() }
        // Redis's ready probe looks on the test's clock too: time moves in 5 ms steps until it is up.
        let driver = Task {
            while !Task.isCancelled {
                await clock.advance(by: .milliseconds(5))
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        try await stack.start(timers: clock)
        driver.cancel()
        _ = await driver.result
        let session = try #require(stack.session)
        let pid = try #require(await stack.snapshot("cache")?.pid)
        // A stopped Redis accepts the connection but never answers SHUTDOWN.
        kill(pid, SIGSTOP)
        let stopping = Task { try await session.supervisor.stop(["cache"]) }
        func warnings() -> [String] {
            stack.events().filter { $0.type == .warning }.compactMap { $0.reason }
        }
        #expect(await eventually(within: .seconds(60)) { await stack.snapshot("cache")?.phase == .stopping })
        // The command's own answer limit is real time (a socket read); its grace is the clock's.
        try await Task.sleep(for: .milliseconds(400))
        await clock.advance(by: .milliseconds(99))
        try await VirtualTimeTests.settle()
        #expect(!warnings().contains { $0.contains("SHUTDOWN brought no exit") }, "the grace is 100 ms: \(warnings())")
        await clock.advance(by: .milliseconds(1))
        #expect(
            await eventually(within: .seconds(60)) {
                warnings().contains { $0.contains("SHUTDOWN brought no exit within 100ms; sent SIGTERM") }
            })
        // SIGTERM waits for a stopped process; SIGKILL does not, after the stop timeout.
        await clock.advance(by: .milliseconds(19_999))
        try await VirtualTimeTests.settle()
        #expect(await stack.snapshot("cache")?.phase == .stopping)
        await clock.advance(by: .milliseconds(1))
        _ = try await stopping.value
        #expect(await stack.snapshot("cache")?.phase == .stopped)
        #expect(!ProcessTable.isAlive(pid))
        _ = await session.stop()
    }
}
