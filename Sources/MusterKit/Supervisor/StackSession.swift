import Foundation

/// One running copy of a stack: the lock, the chosen ports, the supervisor and the
/// published runtime state. The CLI's `up` and the integration tests both use it.
/// Unchecked: fixed at init but for the runtime state, which is written under its lock.
public final class StackSession: @unchecked Sendable {
    public let stack: StackSpec
    public let paths: ProjectPaths
    public let supervisor: Supervisor
    public let ports: [String: Int]
    public let outputs: [String: [String: String]]
    public let selected: [String]
    /// Snapshots, restores and clones of the stack's Postgres databases, and the pools
    /// its keyed snapshot steps fill: one desk orders them all.
    public let desk: DatabaseDesk
    /// What was done about state left by a supervisor that died.
    public let recovered: [String]
    public let startedAt = Date()
    private let lock: ProjectLock
    private var state: RuntimeState
    private let stateLock = NSLock()
    private var writePending = false

    /// Validates the selection, takes the project lock, picks ports and plans every
    /// service. Nothing is started yet.
    /// - Parameters:
    ///   - requested: services to start with what they need; none: every service
    ///     enabled by the active `profiles` (those without profiles always are).
    public init(
        stack: StackSpec, project: String? = nil, services requested: [String] = [], profiles: Set<String> = [],
        options: Supervisor.Options, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        for name in requested where stack.service(named: name) == nil {
            throw MusterError(
                .usage,
                "no service \"\(name)\" in \(stack.file)\(Suggestion.hint(for: name, in: stack.serviceNames)); services: \(stack.serviceNames.joined(separator: ", "))"
            )
        }
        let graph = DependencyGraph(stack: stack)
        let enabled = stack.services.filter { $0.isEnabled(profiles: profiles) }.map(\.name)
        let names = graph.closure(of: requested.isEmpty ? enabled : requested)
        self.stack = stack
        self.selected = graph.startOrder(of: names)
        self.paths = ProjectPaths(stack: stack, project: project)
        try paths.prepare()
        self.lock = try ProjectLock(paths)
        self.recovered = RuntimeState.recoverStale(paths)
        Trace.mark("session: locked, stale state checked")
        var planner = StackPlanner(stack: stack, paths: paths, environment: environment)
        // The engines' ports of the last start (kept across `down`: LastPorts), then those
        // of a supervisor that did not stop cleanly. Postgres, Redis and Kafka listen with
        // SO_REUSEADDR, so a port they had a moment ago binds again; an app's own server
        // may not, so an app keeps only a crashed run's port.
        let engines = Set(stack.services.filter { $0.engine != nil }.map(\.name))
        let previous = LastPorts.read(paths).filter { engines.contains($0.key) }.merging(
            RuntimeState.readAny(paths)?.ports ?? [:]
        ) { $1 }
        let all = Set(stack.serviceNames)
        let others = RuntimeState.portsOfOtherProjects(than: paths)
        Trace.mark("session: other projects' ports read")
        self.ports = try planner.choosePorts(for: all, checking: names, reuse: previous, avoiding: others)
        LastPorts.write(ports, paths)
        self.outputs = planner.outputs(ports: ports)
        self.desk = DatabaseDesk(stack: stack, paths: paths, outputs: outputs)
        planner.desk = desk
        Trace.mark("session: ports chosen")
        // Every service is planned, so `muster start` can add one later; a service
        // outside the selection that cannot be planned is simply left out.
        var plans = try planner.plans(for: names, ports: ports)
        for name in all.subtracting(names) {
            if let plan = try? planner.plans(for: [name], ports: ports).first { plans.append(plan) }
        }
        let order = stack.serviceNames
        plans.sort { order.firstIndex(of: $0.name)! < order.firstIndex(of: $1.name)! }
        Trace.mark("session: services planned")
        let log = try EventLog(path: paths.eventsFile)
        Trace.mark("session: event log open")
        self.supervisor = Supervisor(plans: plans, paths: paths, options: options, eventLog: log)
        self.state = RuntimeState(
            pid: getpid(), project: paths.project, stackFile: StackLoader.absolute(stack.file),
            outputs: outputs, ports: ports)
        try state.write(paths)
    }

    /// Records the process groups in use, for leak checks after a crash. Writes are
    /// coalesced (at most one per 50 ms): starting 500 services must not rewrite
    /// the file 500 times. The guardian covers the moment in between.
    func noteGroups(_ groups: Set<pid_t>) {
        stateLock.lock()
        state.groups = groups.sorted()
        if Guardian.shared.pid > 0 { state.guardian = Guardian.shared.pid }
        let schedule = !writePending
        writePending = true
        stateLock.unlock()
        guard schedule else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { [weak self] in
            guard let self else { return }
            self.stateLock.lock()
            self.writePending = false
            let snapshot = self.state
            self.stateLock.unlock()
            try? snapshot.write(self.paths)
        }
    }

    /// Starts everything; on a required failure, the error carries the failing
    /// service's last 20 log lines as details (the caller tears down).
    public func start(deadline: Timebase.Moment? = nil) async throws {
        await supervisor.onNewGroup { [weak self] groups in self?.noteGroups(groups) }
        do {
            try await supervisor.start(selected, deadline: deadline)
        } catch let error as MusterError {
            throw await withLogTail(error)
        }
    }

    /// Adds the failing service's last 20 log lines to an error about it.
    public func withLogTail(_ error: MusterError) async -> MusterError {
        var error = error
        let failing = await supervisor.snapshot().first { snapshot in
            error.message.hasPrefix("service \(snapshot.name) ")
        }
        if let failing, error.details.isEmpty {
            let tail = await supervisor.lastLines(of: failing.name, count: 20)
            if !tail.isEmpty {
                error.details =
                    ["last \(tail.count) lines of \(failing.name) (\(paths.logFile(for: failing.name))):"]
                    + tail.map { "  " + Secrets.mask($0) }
            }
        }
        return error
    }

    /// Stops everything in reverse dependency order and removes runtime state.
    /// Returns the processes that had to be killed after the orderly stop.
    @discardableResult
    public func stop() async -> [String] {
        let leftovers = await supervisor.shutdown()
        paths.removeRuntime()
        return leftovers
    }

    /// Lines for the end of startup: each service's time to ready, then the
    /// dependency chain that decided the total.
    public func timeline() async -> [String] {
        let snapshots = await supervisor.snapshot()
        var lines: [String] = []
        let width = snapshots.map(\.name.count).max() ?? 0
        for snapshot in snapshots.sorted(by: { ($0.readyAt ?? .infinity) < ($1.readyAt ?? .infinity) }) {
            let took = snapshot.readyDuration.map { String(format: "%.3fs", $0) } ?? "-"
            let at = snapshot.readyAt.map { String(format: "at %.3fs", $0) } ?? ""
            lines.append(
                "  \(snapshot.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(snapshot.phase.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(took.padding(toLength: 8, withPad: " ", startingAt: 0)) \(at)"
            )
        }
        let path = await supervisor.criticalPath()
        if let last = path.last?.readyAt {
            lines.append(
                String(format: "critical path (%.3fs): ", last) + path.map { $0.name }.joined(separator: " → "))
        }
        return lines
    }
}
