import Foundation

/// What the file watcher asks of the supervisor: restarts and re-runs with the change
/// as their reason, and a line in the event log for a build step that failed.
extension Supervisor {
    /// Restarts `names` (with their running dependents) because files changed; the
    /// `restarted` events carry `reason`. A failed or given-up service starts again:
    /// its failures-in-a-row count starts from zero, so an edit that fixes a crash
    /// loop is never refused because of `max_restarts`.
    /// A task cannot restart (it runs once): for it a change means running it again.
    public func restart(_ names: [String], because reason: String) async throws -> [String] {
        if names.count == 1, isTask(names[0]) { return try await rerun(names[0], because: reason) }
        for name in names { await runners[name]?.setNextRestartReason(reason) }
        // Not left for a later restart (a crash) to tell as its reason, whatever happens.
        let outcome: Result<[String], Error>
        do { outcome = .success(try await restart(names)) } catch { outcome = .failure(error) }
        for name in names { await runners[name]?.setNextRestartReason(nil) }
        return try outcome.get()
    }

    /// Runs a completed (or failed) task again, then restarts the running services
    /// that wait for it with `completed`. Returns those services.
    public func rerun(_ task: String, because reason: String) async throws -> [String] {
        try checkNames([task])
        prepareRunners()
        await runners[task]?.setNextRestartReason(reason)
        do {
            try await start([task], rerunTasks: true)
        } catch {
            await runners[task]?.setNextRestartReason(nil)
            throw error
        }
        await runners[task]?.setNextRestartReason(nil)
        let waiting = plans.filter { plan in
            plan.dependsOn.contains { $0.service == task && $0.condition == .completed }
                && !(snapshots[plan.name]?.phase.isDown ?? true)
        }.map(\.name)
        guard !waiting.isEmpty else { return [] }
        _ = try await restart(waiting, because: "\(task) ran again (\(reason))")
        return waiting
    }

    /// Records an event that changes no phase (a build step that failed).
    public func note(_ event: ServiceEvent) {
        var event = event
        event.time = EventLog.timestamp(time.date)
        record(event)
    }

    func markWatched(_ names: [String]) { watched = Set(names) }

    /// Whether a service is meant to run now (started and not stopped by hand).
    public func isWanted(_ name: String) -> Bool { wanted.contains(name) }
}
