import Foundation
/// When to check next while waiting for readiness.
///
/// The delay grows with the time already spent waiting: `fraction` of the elapsed
/// time, never below `minimum` nor above the probe's `interval`. So a service that
/// becomes ready after t is noticed by about t × (1 + fraction) at the latest:
/// a check within ~5 ms of start, and backing off to `interval` for slow starters.
public struct ProbeSchedule: Sendable, Equatable {
    public var interval: Duration
    public var minimum: Duration
    public var fraction: Double

    public init(interval: Duration, minimum: Duration = .milliseconds(5), fraction: Double = 0.1) {
        self.interval = interval
        self.minimum = min(minimum, interval)
        self.fraction = fraction
    }

    public func delay(afterWaiting elapsed: Duration) -> Duration {
        let scaled = elapsed * fraction
        return min(interval, max(minimum, scaled))
    }
}

/// What one check found.
public enum ProbeOutcome: Sendable, Equatable {
    /// Passed; `identity` names the running instance where the probe can tell
    /// (Redis run_id, Postgres postmaster start time, an http JSON field).
    case passed(identity: String?)
    case failed(String)

    public var passed: Bool {
        if case .passed = self { return true }
        return false
    }
}

/// A check that is polled: connect, ask, answer.
public protocol PollingProbe: Sendable {
    /// One attempt; must return within the probe's timeout.
    func check() async -> ProbeOutcome
}

import Dispatch
