import Foundation

extension ServiceRunner {
    /// After an event: notes when a run completed (for `ps`), and returns the
    /// `task: true` hint (`TaskSuggestion`) when a service that is not a task just
    /// completed soon after it started; given once per supervisor.
    func noteCompletion(of event: ServiceLifecycle.Event, wasCompleted: Bool) -> ServiceEvent? {
        guard machine.phase == .completed, !wasCompleted else { return nil }
        completedAt = Date()
        guard case let .exited(status, uptime, _) = event, !suggestedTask,
              let reason = TaskSuggestion.reason(policy: plan.policy, status: status, uptime: uptime) else { return nil }
        suggestedTask = true
        return ServiceEvent(service: plan.name, type: .warning, pid: machine.pid, restarts: machine.restarts, reason: reason)
    }
}
