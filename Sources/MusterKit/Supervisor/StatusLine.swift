import Foundation

/// muster's own one-line account of a lifecycle event on the console.
public enum StatusLine {
    public static func format(_ event: ServiceEvent, snapshot: ServiceSnapshot?, console: Console) -> String {
        var text = "\(event.service) \(event.type)"
        switch event.type {
        case .starting: text += event.pid.map { " (pid \($0))" } ?? ""
        case .ready, .completed:
            if let duration = snapshot?.readyDuration {
                text += " in \(DurationParser.format(.milliseconds(Int64(duration * 1000))))"
            }
        case .restarted:
            text +=
                " (pid \(event.previousPid.map(String.init) ?? "?") → \(event.pid.map(String.init) ?? "?"), restart \(event.restarts))"
        case .available:
            text += event.durationMs.map { " after \($0)ms" } ?? ""
        default: break
        }
        if let reason = event.reason, event.type != .restarted { text += ": \(Secrets.mask(reason))" }
        let style: Console.Style
        if event.type.isServing {
            style = .green
        } else if event.type.isFault {
            style = .red
        } else {
            style = event.type == .warning ? .yellow : .dim
        }
        return console.paint("muster │ ", .bold) + console.paint(text, style)
    }
}
