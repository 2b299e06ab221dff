import Foundation

/// A service's state as others see it (ps, the supervisor's dependency checks).
public struct ServiceSnapshot: Sendable, Codable, Equatable {
    public var name: String
    public var phase: ServicePhase
    public var pid: Int32?
    public var restarts: Int
    public var port: Int?
    public var wasEverStarted: Bool
    public var wasEverReady: Bool
    public var optional: Bool
    public var failure: String?
    /// Seconds since the supervisor began, when its dependencies were met / it became ready.
    public var startedAt: Double?
    public var readyAt: Double?
    /// Wall-clock start of the current process, for uptime.
    public var processStartedAt: Date?
    public var available: Bool
    public var kind: ServiceKind
    /// Restarts muster did not cause (restart_detected events).
    public var restartsDetected: Int = 0
    /// Counts the runner's state changes: snapshots reach the supervisor through a
    /// queue, and one read directly from the runner may be newer than those queued.
    public var revision: Int = 0
    /// Runs once and must exit 0 (`ServiceLifecycle.Policy.isTask`).
    public var isTask = false
    /// Wall-clock time its last run completed (exited 0), while it is `completed`.
    public var completedAt: Date?
    /// While `completed`: why the task did not run (its keyed snapshot was current).
    public var skipped: String?

    /// A service that has not been started.
    static func initial(_ plan: ServicePlan) -> ServiceSnapshot {
        var snapshot = ServiceSnapshot(
            name: plan.name, phase: .pending, pid: nil, restarts: 0, port: plan.port, wasEverStarted: false,
            wasEverReady: false, optional: plan.optional, failure: nil, startedAt: nil, readyAt: nil,
            processStartedAt: nil, available: true, kind: plan.kind)
        snapshot.isTask = plan.policy.isTask
        return snapshot
    }

    /// Time from start to ready (or to completion for tasks).
    public var readyDuration: Double? {
        guard let startedAt, let readyAt else { return nil }
        return readyAt - startedAt
    }
}
