import Foundation
import MusterKit

/// What the interactive view shows, fed by the control API like any other client:
/// `GET /v1/status` polled twice a second, `/v1/logs?follow` and `/v1/events?follow`
/// streamed on threads of their own. The curses thread only reads it (under the
/// lock) and asks for operations; nothing here touches the terminal.
/// Unchecked: every field is read and written under its lock.
final class ViewModel: @unchecked Sendable {
    struct LogLine {
        var service: String
        var text: String
        /// An event (restart, exit, ...) rather than a line of the service's output.
        var isEvent: Bool
    }

    /// Whether this view's `q` stops the stack (foreground `up`) or leaves it running (`attach`).
    enum Mode { case foreground, attached }

    let client: ControlClient
    let project: String
    let mode: Mode
    private let lock = NSLock()
    private(set) var services: [ServiceStatus] = []
    private(set) var lines: [LogLine] = []
    private(set) var selected = 0
    private(set) var filtered = false
    private(set) var message = ""
    private(set) var messageIsProblem = false
    /// The operation in progress (`restarting api`), if any: one at a time.
    private(set) var busy: String?
    /// Set once the supervisor stopped answering after it had answered.
    private(set) var supervisorGone = false
    private var answered = false
    private var misses = 0
    private var stopped = false
    static let keptLines = 5000

    init(client: ControlClient, project: String, mode: Mode) {
        self.client = client
        self.project = project
        self.mode = mode
    }

    func withLock<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    var isStopped: Bool { withLock { stopped } }

    /// Stops the feeder threads (at their next wake-up).
    func stop() { withLock { stopped = true } }

    // MARK: feeding

    /// Starts the status poller and the log and event followers.
    func startFeeding(eventsSince: Int) {
        Thread.detachNewThread { [self] in pollStatus() }
        Thread.detachNewThread { [self] in followEvents(since: eventsSince) }
    }

    private func pollStatus() {
        var followingLogs = false
        while !isStopped {
            if let report = try? client.status() {
                withLock {
                    services = report.services
                    selected = min(selected, max(services.count - 1, 0))
                    answered = true
                    misses = 0
                }
                if !followingLogs {
                    followingLogs = true
                    let names = report.services.map(\.name)
                    Thread.detachNewThread { [self] in followLogs(names) }
                }
            } else {
                withLock {
                    misses += 1
                    if answered && misses >= 3 { supervisorGone = true }
                }
            }
            usleep(500_000)
        }
    }

    /// Every service's output; the server prefixes each line with `name │ ` when
    /// there are several.
    private func followLogs(_ names: [String]) {
        let query = names.map { "service=\($0)" }.joined(separator: "&")
        var pending = Data()
        _ = try? client.stream("GET", "/v1/logs?\(query)&tail=200&follow=true", timeout: .seconds(86_400 * 365)) {
            data in
            pending.append(data)
            var batch: [LogLine] = []
            while let newline = pending.firstIndex(of: 10) {
                let text = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending = Data(pending[pending.index(after: newline)...])
                batch.append(Self.logLine(text, services: names))
            }
            append(batch)
            return !isStopped
        }
    }

    static func logLine(_ text: String, services: [String]) -> LogLine {
        guard services.count > 1, let bar = text.range(of: " │ ") else {
            return LogLine(service: services.first ?? "", text: text, isEvent: false)
        }
        let name = text[..<bar.lowerBound].trimmingCharacters(in: .whitespaces)
        return LogLine(service: name, text: String(text[bar.upperBound...]), isEvent: false)
    }

    private func followEvents(since: Int) {
        while !isStopped {
            var pending = Data()
            _ = try? client.stream("GET", "/v1/events?since=\(since)&follow=true", timeout: .seconds(86_400 * 365)) {
                data in
                pending.append(data)
                var batch: [LogLine] = []
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[pending.index(after: newline)...])
                    if let event = ServiceEvent.parse(line) {
                        batch.append(LogLine(service: event.service, text: "▸ " + event.humanLine(), isEvent: true))
                    }
                }
                append(batch)
                return !isStopped
            }
            // The socket may not be open yet (foreground up opens it while starting).
            if withLock({ answered }) { return }
            usleep(200_000)
        }
    }

    private func append(_ batch: [LogLine]) {
        guard !batch.isEmpty else { return }
        withLock {
            lines.append(contentsOf: batch)
            if lines.count > Self.keptLines { lines.removeFirst(lines.count - Self.keptLines) }
        }
    }

    // MARK: what the keys do

    func say(_ text: String, problem: Bool = false) {
        withLock {
            message = text
            messageIsProblem = problem
        }
    }

    func move(by step: Int) {
        withLock {
            guard !services.isEmpty else { return }
            selected = min(max(selected + step, 0), services.count - 1)
        }
    }

    var selectedService: ServiceStatus? {
        withLock { services.indices.contains(selected) ? services[selected] : nil }
    }

    func toggleFilter() {
        guard let service = selectedService else { return say("no services yet", problem: true) }
        let now = withLock { () -> Bool in
            filtered.toggle()
            return filtered
        }
        say(now ? "logs of \(service.name) only; enter shows all" : "logs of every service")
    }

    /// The lines to show: every service's, or the selected one's.
    func visibleLines() -> [LogLine] {
        withLock {
            guard filtered, services.indices.contains(selected) else { return lines }
            let name = services[selected].name
            return lines.filter { $0.service == name }
        }
    }

    /// Restart (`r`), stop (`s`) or start (`S`) the selected service, unless that
    /// makes no sense in its state; the answer goes to the status line.
    func act(_ action: ControlAction) {
        guard let service = selectedService else { return say("no services yet", problem: true) }
        if let refusal = Self.refusal(action, service) { return say(refusal, problem: true) }
        let doing = "\(Self.verb(action)) \(service.name)"
        let started = withLock { () -> Bool in
            guard busy == nil else { return false }
            busy = doing
            return true
        }
        guard started else { return say("still \(busy ?? "busy"); wait for it to finish", problem: true) }
        say(doing + "…")
        let client = self.client
        Thread.detachNewThread { [self] in
            let request = OperationRequest(services: [service.name], timeoutMs: 120_000)
            let result = try? client.perform("/v1/" + action.rawValue, request, timeout: .seconds(150))
            withLock { busy = nil }
            if let result, result.ok {
                let also = (result.affected ?? []).isEmpty ? "" : " (and \(result.affected!.joined(separator: ", ")))"
                say("\(service.name): \(Self.done(action))\(also)")
            } else {
                say("\(service.name): " + (result?.error ?? "the supervisor did not answer"), problem: true)
            }
        }
    }

    /// Why `action` does nothing for `service` now, or nil when it applies.
    static func refusal(_ action: ControlAction, _ service: ServiceStatus) -> String? {
        let phase = ServicePhase(rawValue: service.state)
        let running = phase == .starting || phase == .ready || phase == .backoff
        switch action {
        case .stop:
            return running ? nil : "\(service.name) is \(service.state), not running: nothing to stop"
        case .start:
            return running ? "\(service.name) is already running (\(service.state)); r restarts it" : nil
        case .restart:
            if phase == .completed {
                return "\(service.name) is a task that completed: it does not restart; S runs it again"
            }
            if service.task, running {
                return "\(service.name) is a task that is still running: it does not restart; wait until it completes"
            }
            if phase == .stopping { return "\(service.name) is stopping; wait, then S starts it" }
            return running ? nil : "\(service.name) is \(service.state), not running: S starts it"
        }
    }

    static func verb(_ action: ControlAction) -> String {
        switch action {
        case .restart: return "restarting"
        case .stop: return "stopping"
        case .start: return "starting"
        }
    }

    static func done(_ action: ControlAction) -> String {
        switch action {
        case .restart: return "restarted"
        case .stop: return "stopped"
        case .start: return "started"
        }
    }
}
