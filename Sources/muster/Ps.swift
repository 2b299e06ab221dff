import ArgumentParser
import Foundation
import MusterKit

struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "One row per service: state, pid, ready, restarts, uptime, ports and time to ready.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Machine-readable output (the control API's /v1/status).") var json = false

    func run() async throws {
        let (_, paths) = try global.resolveRunning()
        guard let client = ControlClient.connect(paths) else {
            if json {
                print(String(decoding: ControlJSON.encode(NotRunning(project: paths.project)), as: UTF8.self))
            } else {
                print("project \(paths.project) is not running")
            }
            return
        }
        let status = try client.status()
        if json {
            print(String(decoding: ControlJSON.encode(status), as: UTF8.self))
            return
        }
        let out = Console.standardOutput
        var rows = [["SERVICE", "STATE", "PID", "READY", "RESTARTS", "UPTIME", "PORTS", "READY IN"]]
        for service in status.services { rows.append(Self.row(service)) }
        for (index, text) in Table.render(rows).enumerated() {
            out.line(index == 0 ? out.paint(text, .bold) : text)
        }
    }

    static func row(_ service: ServiceStatus) -> [String] {
        let state: String = taskState(service) ?? service.state + (service.available ? "" : " (unavailable)")
        let pid: String = service.pid.map { String($0) } ?? "-"
        let uptime: String = service.uptimeS.map { DurationParser.format(.milliseconds(Int64($0 * 1000))) } ?? "-"
        let ports: String = service.ports.isEmpty ? "-" : service.ports.map { String($0) }.joined(separator: ",")
        let readyIn: String = service.readyInS.map { String(format: "%.3fs", $0) } ?? "-"
        let restarts =
            String(service.restarts) + (service.restartsDetected > 0 ? " (+\(service.restartsDetected) detected)" : "")
        return [service.name, state, pid, service.ready ? "yes" : "no", restarts, uptime, ports, readyIn]
    }

    /// A task's state: `running (task)`, `completed 14:03:12 (task)` (local time), ...
    static func taskState(_ service: ServiceStatus) -> String? {
        guard service.task else { return nil }
        if service.state == "starting", service.pid != nil { return "running (task)" }
        if let text = service.completedAt, let date = RFC3339.time(text) {
            let formatter = DateFormatter()
            formatter.dateFormat = Calendar.current.isDateInToday(date) ? "HH:mm:ss" : "yyyy-MM-dd HH:mm:ss"
            return "completed \(formatter.string(from: date)) (task\(service.skipped.map { ", " + $0 } ?? ""))"
        }
        return service.state + " (task)"
    }

    struct NotRunning: Encodable {
        var project: String
        var running = false
        var services: [String] = []
    }
}
