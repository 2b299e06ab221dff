import ArgumentParser
import Foundation
import MusterKit

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the stack in reverse dependency order and check that nothing is left.",
        discussion: """
            Afterwards no process of the stack may remain and no port it used may accept a connection; \
            anything that survives is killed and reported, and down exits 1. Data is kept unless --volumes is given. \
            With nothing running, down exits 0.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Also delete the project's data (databases and the like).") var volumes = false

    func run() async throws {
        let (_, paths) = try global.resolveRunning()
        try await Self.perform(paths: paths, volumes: volumes)
    }

    /// Stops the project's supervisor (or cleans up after a dead one), then checks
    /// that no process and no port of the stack is left.
    static func perform(paths: ProjectPaths, volumes: Bool, out: Console = .standardOutput) async throws {
        let prefix = out.paint("muster │ ", .bold)
        var groups = Set<Int32>()
        var ports = Set<Int>()
        var problems: [String] = []
        var stopped = 0
        let state = RuntimeState.readAny(paths)
        groups.formUnion(state?.groups ?? [])

        Trace.mark("down: state read")
        if let client = ControlClient.connect(paths) {
            Trace.mark("down: connected")
            let firstSeq = EventLog.lastSeq(in: paths.eventsFile) + 1
            // The answer names what ran (services, ports, process groups) before the stop.
            let result = try client.perform("/v1/shutdown", nil, timeout: .seconds(600))
            Trace.mark("down: shutdown answered")
            // What the stop had to do beyond asking (an escalation, a wait for a process
            // still exiting) is said here too, not only in the event log.
            for event in FileTail.lastLines(of: paths.eventsFile, count: 400).compactMap(ServiceEvent.parse)
            where event.seq >= firstSeq && event.type == .warning {
                out.line(prefix + "\(event.service): \(event.reason ?? "warning")")
            }
            let services = result.services ?? []
            groups.formUnion(result.groups ?? [])
            ports.formUnion(services.filter { $0.state != "inactive" }.flatMap(\.ports))
            stopped = services.filter { $0.pid != nil }.count
            problems += result.leftovers ?? []
            if let pid = state?.pid, !ProcessTable.waitForExit(pid, within: .seconds(15)) {
                kill(pid, SIGKILL)
                problems.append("the supervisor (pid \(pid)) did not exit; killed it")
            }
            // Its guardian follows it out once the supervisor's pipe closes.
            // (Only a process that is still a guardian: pids are reused.)
            if let guardian = state?.guardian, ProcessTable.entry(guardian)?.name == "muster-guardian",
                !ProcessTable.waitForExit(guardian, within: .seconds(5))
            {
                kill(guardian, SIGKILL)
                problems.append("the supervisor's guardian (pid \(guardian)) did not exit; killed it")
            }
        } else if let state, ProcessTable.isAlive(state.pid), ProjectLock.isHeld(paths) {
            // A supervisor that does not answer: ask it with a signal, then insist.
            ports.formUnion(state.ports.values)
            kill(state.pid, SIGTERM)
            if !ProcessTable.waitForExit(state.pid, within: .seconds(30)) {
                kill(state.pid, SIGKILL)
                problems.append("the supervisor (pid \(state.pid)) did not answer or exit; killed it")
            }
        } else if state != nil {
            out.line(prefix + "project \(paths.project) was not running; cleaning up what its last supervisor left")
        }

        Trace.mark("down: supervisor gone")
        problems += await ProcessSweep.killAndAwait(ProcessTable.present(inGroups: groups), within: .seconds(10))
        problems += busyPorts(ports)
        Trace.mark("down: checked")
        if !ProjectLock.isHeld(paths) { paths.removeRuntime() }
        // Deleted after every process is gone: a server still writing could refill it.
        let kept = volumes ? paths.removeData() : []
        if volumes && kept.isEmpty { out.line(prefix + "deleted data in \(paths.dataDir)") }
        if state == nil && groups.isEmpty {
            out.line(prefix + "project \(paths.project) is not running; nothing to stop")
        } else if problems.isEmpty {
            out.line(
                prefix
                    + out.paint(
                        "stopped \(stopped) services; no process left; \(ports.isEmpty ? "no ports" : "ports \(ports.sorted().map(String.init).joined(separator: ", ")) closed")",
                        .boldGreen))
        }
        if !problems.isEmpty {
            throw MusterError(
                .serviceFailed, "down had to clean up after the stack: \(problems[0])",
                details: (problems.dropFirst() + kept.map { "could not delete \($0)" }).map { "  " + $0 })
        }
        if let first = kept.first {
            throw MusterError(
                .serviceFailed,
                "down --volumes could not delete \(first); check its owner and permissions, then delete it or run down --volumes again",
                details: kept.dropFirst().map { "  could not delete " + $0 })
        }
    }

    /// Ports of the stack that still accept connections, with who holds them.
    static func busyPorts(_ ports: Set<Int>) -> [String] {
        ports.sorted().compactMap { port in
            guard (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(300))) != nil else {
                return nil
            }
            return "port \(port) still accepts connections: \(PortPreflight.describeHolder(of: port))"
        }
    }
}
