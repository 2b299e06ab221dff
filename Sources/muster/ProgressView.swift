import Foundation
import MusterKit

/// The live view of `up -d` on a terminal: one line per service with a spinner,
/// its state and the time since it started, redrawn in place ten times a second.
/// Without a terminal (or with NO_COLOR) it is never used: plain lines are printed
/// instead, one per event, stable for logs and scripts.
/// Unchecked: its rows are read and written under its lock.
final class ProgressView: @unchecked Sendable {
    private let console: Console
    private let names: [String]
    private let width: Int
    private let lock = NSLock()
    private var states: [String: (state: String, kind: EventKind?, since: Date, done: Date?)] = [:]
    private var drawn = 0
    private var frame = 0
    private var timer: Task<Void, Never>?
    /// Warnings that came while the view was drawn, printed below its last frame.
    private var notes: [String] = []
    static let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    init(services: [String], console: Console) {
        self.console = console
        self.names = services
        self.width = services.map(\.count).max() ?? 0
        let now = Date()
        for name in services { states[name] = ("waiting", nil, now, nil) }
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
    func update(service: String, type: EventKind) {
        lock.lock()
        let now = Date()
        var entry = states[service] ?? ("waiting", nil, now, nil)
        if type == .starting || type == .restarted {
            entry = (type == .starting ? "starting" : "restarting", type, now, nil)
        } else if type.isServing {
            entry = (type.rawValue, type, entry.since, now)
        } else {
            entry = (type.rawValue, type, entry.since, type == .failed ? now : nil)
        }
        states[service] = entry
        lock.unlock()
    }

    /// A warning line (a service's state stays as it was): shown once the view is done.
    func note(_ line: String) {
        lock.lock()
        notes.append(line)
        lock.unlock()
    }

    /// Last frame without spinners, then the warnings; later output goes below it.
    func finish() {
        timer?.cancel()
        draw(final: true)
        lock.lock()
        let lines = notes
        notes = []
        lock.unlock()
        lines.forEach(console.line)
    }

    private func draw(final: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        frame += 1
        var text = drawn > 0 ? "\u{1B}[\(drawn)A" : ""
        let now = Date()
        for name in names {
            let entry = states[name] ?? ("waiting", nil, now, nil)
            let elapsed = (entry.done ?? now).timeIntervalSince(entry.since)
            let mark: String
            if entry.kind?.isServing == true {
                mark = console.paint("✔", .green)
            } else if let kind = entry.kind, kind.isDown, kind.isFault {
                mark = console.paint("✘", .red)
            } else {
                mark = final ? " " : console.paint(Self.spinner[frame % Self.spinner.count], .cyan)
            }
            let state = entry.state.padding(toLength: 10, withPad: " ", startingAt: 0)
            let time = entry.state == "waiting" ? "" : String(format: "%.1fs", elapsed)
            text +=
                "\u{1B}[2K\(mark) \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(state) \(console.paint(time, .dim))\n"
        }
        drawn = names.count
        console.write(text)
    }
}
