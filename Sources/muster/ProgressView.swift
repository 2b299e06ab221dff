import Foundation
import MusterKit

/// The live view of `up -d` on a terminal: one line per service with a spinner,
/// its state and the time since it started, redrawn in place ten times a second.
/// Without a terminal (or with NO_COLOR) it is never used: plain lines are printed
/// instead, one per event, stable for logs and scripts.
final class ProgressView: @unchecked Sendable {
    private let console: Console
    private let names: [String]
    private let width: Int
    private let lock = NSLock()
    private var states: [String: (state: String, since: Date, done: Date?)] = [:]
    private var drawn = 0
    private var frame = 0
    private var timer: Task<Void, Never>?
    static let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    init(services: [String], console: Console) {
        self.console = console
        self.names = services
        self.width = services.map(\.count).max() ?? 0
        let now = Date()
        for name in services { states[name] = ("waiting", now, nil) }
    }

    func start() {
        draw()
        timer = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                self?.draw()
            }
        }
    }

    /// An event from the supervisor.
    func update(service: String, type: String) {
        lock.lock()
        let now = Date()
        var entry = states[service] ?? ("waiting", now, nil)
        switch type {
        case "starting", "restarted": entry = (type == "starting" ? "starting" : "restarting", now, nil)
        case "ready", "completed": entry = (type, entry.since, now)
        default: entry = (type, entry.since, type == "failed" ? now : nil)
        }
        states[service] = entry
        lock.unlock()
    }

    /// Last frame without spinners; later output goes below it.
    func finish() {
        timer?.cancel()
        draw(final: true)
    }

    private func draw(final: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        frame += 1
        var text = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let now = Date()
        for name in names {
            let entry = states[name] ?? ("waiting", now, nil)
            let elapsed = (entry.done ?? now).timeIntervalSince(entry.since)
            let mark: String
            switch entry.state {
            case "ready", "completed": mark = console.paint("✔", .green)
            case "failed", "exited": mark = console.paint("✘", .red)
            default: mark = final ? " " : console.paint(Self.spinner[frame % Self.spinner.count], .cyan)
            }
            let state = entry.state.padding(toLength: 10, withPad: " ", startingAt: 0)
            let time = entry.state == "waiting" ? "" : String(format: "%.1fs", elapsed)
            text += "\u{1B}[2K\(mark) \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(state) \(console.paint(time, .dim))\n"
        }
        drawn = names.count
        console.write(text)
    }
}
