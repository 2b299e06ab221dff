import Foundation

/// The one-line hint that a service is a one-shot step that should say so.
///
/// A service without `task: true` and without a ready probe counts as ready the
/// moment it spawns, so `up -d` may return while it still runs (a migration whose
/// tables are not there yet). When such a service exits 0 soon after it started,
/// it most likely was meant as a task: muster records a `warning` event saying so.
public enum TaskSuggestion {
    /// "Soon after it started": less than this. A server that exits 0 by itself so
    /// early is rare; a one-shot step usually does. (Docker's healthy-run mark too.)
    public static let window: Duration = ServiceLifecycle.healthyUptime

    /// The text that ends every suggestion, so readers of the event log can tell it
    /// from other warnings.
    public static let advice = "if it is a one-shot step, set task: true so up waits until it completes"

    /// The warning's reason for a run of a service that ended with `status` after
    /// `uptime`, or nil when no hint is due: it is a task already, it has a ready
    /// probe (then `up` waited for that), it failed, or it ran long.
    public static func reason(policy: ServiceLifecycle.Policy, status: ExitStatus, uptime: Duration) -> String? {
        guard !policy.isTask, !policy.hasReadyProbe, policy.restart != .always, status.isSuccess, uptime < window else {
            return nil
        }
        return
            "exited with code 0 \(DurationParser.format(uptime)) after it started and nothing waits for it to complete; "
            + advice
    }

    /// Whether an event's reason is such a hint.
    public static func isSuggestion(_ reason: String?) -> Bool {
        reason?.hasSuffix(advice) ?? false
    }

    /// The hints in an event log, oldest first, from `since` on (a supervisor's start:
    /// those of earlier lives of the project are old news).
    public static func recorded(in eventsFile: String, since: Date?) -> [ServiceEvent] {
        ServiceEvent.read(eventsFile).filter { event in
            event.type == .warning && isSuggestion(event.reason)
                && (since.map { (event.date ?? .distantPast) >= $0 } ?? true)
        }
    }

    /// `warning: migrate exited with code 0 0.3s after it started ...`, for the end of a command.
    public static func line(_ event: ServiceEvent) -> String {
        "warning: \(event.service) \(event.reason ?? "")"
    }
}
