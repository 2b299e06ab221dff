import Foundation

/// The one clock a supervisor and its runners wait on and stamp times with: probe
/// schedules, alive intervals, monitors, the stop command's grace, the start, restart
/// and stop timers, the release wait, `waitForOutcome` and the times of events.
///
/// Times are moments: the duration since the timebase began. Wall-clock dates are that
/// moment past the wall-clock date at which it began, so they follow the same clock
/// (a test's `TestClock` moves both; a system clock stepped by NTP moves neither).
/// Built over any `Clock` whose duration is `Duration`, so tests run everything that
/// waits in virtual time.
public struct Timebase: Sendable {
    /// A point in time: the duration since the timebase began.
    public typealias Moment = Duration

    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void
    /// The wall-clock date of moment zero.
    public let wallOrigin: Date

    public init<C: _Concurrency.Clock>(_ clock: C, wallOrigin: Date = Date()) where C.Duration == Duration {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleeper = { moment in try await clock.sleep(until: start.advanced(by: moment), tolerance: nil) }
        self.wallOrigin = wallOrigin
    }

    /// Real time.
    public static func continuous() -> Timebase { Timebase(ContinuousClock()) }

    /// Now, as a moment.
    public var now: Moment { elapsed() }

    /// Now, as a wall-clock date on this timebase.
    public var date: Date { date(at: now) }

    public func date(at moment: Moment) -> Date {
        wallOrigin.addingTimeInterval(moment.seconds)
    }

    /// Sleeps until `moment` (returns at once when it has passed); throws when cancelled.
    public func sleep(until moment: Moment) async throws {
        try await sleeper(moment)
    }

    public func sleep(for duration: Duration) async throws {
        try await sleeper(now + duration)
    }

    /// A deadline fixed now (when a timer is armed, not when its task first runs), so a
    /// test that moves the clock right after seeing a phase change still fires it at
    /// the right moment.
    public func deadline(after duration: Duration) -> Moment { now + duration }
}
