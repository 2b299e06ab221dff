import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a stack's services, each the moment its own dependencies are met, and
/// stops them in reverse dependency order. Runners decide; the supervisor orders.
public actor Supervisor {
    public struct Options: Sendable {
        /// Where service output and status lines go; nil keeps them out of the terminal.
        public var console: Console?
        /// Prints muster's own status lines (`api ready in 0.42s`).
        public var statusLines: Bool
        public init(console: Console?, statusLines: Bool = true) {
            self.console = console
            self.statusLines = statusLines
        }
    }

    public let paths: ProjectPaths
    public let plans: [ServicePlan]
    private let graph: DependencyGraph
    private let options: Options
    private let eventLog: EventLog?
    private let origin = ContinuousClock.now
    private var runners: [String: ServiceRunner] = [:]
    private var snapshots: [String: ServiceSnapshot] = [:]
    private var started = Set<String>()
    /// Services that never started because a dependency failed, with why.
    private var blocked: [String: String] = [:]
    private var startWaiters: [CheckedContinuation<Void, Never>] = []
    private var shuttingDown = false
    private var groupsSeen = Set<pid_t>()
    private var eventObservers: [@Sendable (ServiceEvent) -> Void] = []

    public init(plans: [ServicePlan], paths: ProjectPaths, options: Options, eventLog: EventLog?) {
        self.plans = plans
        self.paths = paths
        self.options = options
        self.eventLog = eventLog
        let names = plans.map(\.name)
        let deps = Dictionary(uniqueKeysWithValues: plans.map { plan in
            (plan.name, plan.dependsOn.map(\.service).filter(names.contains))
        })
        self.graph = DependencyGraph(names: names, dependencies: deps)
    }

    public func onEvent(_ observer: @escaping @Sendable (ServiceEvent) -> Void) {
        eventObservers.append(observer)
    }

    /// Starts everything and returns once all services are ready (or completed),
    /// or throws the first required failure (with the service's last log lines).
    public func start() async throws {
        ProcessSpawner.shared.spawnIfNeeded()
        Guardian.shared.start()
        let width = plans.map(\.name.count).max() ?? 0
        for (index, plan) in plans.enumerated() {
            let console = options.console
            let prefix = console.map {
                LinePrefix(name: plan.name, width: max(width, 6), style: Console.palette[index % Console.palette.count], console: $0)
            }
            let runner = ServiceRunner(plan: plan, paths: paths, console: console, prefix: prefix, origin: origin) { [weak self] snapshot, event in
                await self?.changed(snapshot, event: event)
            }
            runners[plan.name] = runner
            snapshots[plan.name] = await runner.snapshot
        }
        await evaluate()
        await withCheckedContinuation { continuation in
            if startOutcome() != nil { continuation.resume() } else { startWaiters.append(continuation) }
        }
        if let failure = startOutcome() ?? nil { throw failure }
    }

    public func snapshot() -> [ServiceSnapshot] {
        plans.compactMap { snapshots[$0.name] }
    }

    func runner(_ name: String) -> ServiceRunner? { runners[name] }

    public func lastLines(of service: String, count: Int) async -> [String] {
        await runners[service]?.lastLines(count) ?? []
    }

    /// nil: still starting; .some(nil): everything is up; .some(error): a required failure.
    private func startOutcome() -> MusterError?? {
        for plan in plans {
            guard let snapshot = snapshots[plan.name] else { return .none }
            if let reason = blocked[plan.name] {
                if plan.optional { continue }
                return .some(MusterError(.serviceFailed, "service \(plan.name) did not start: \(reason)"))
            }
            switch snapshot.phase {
            case .ready, .completed: continue
            case .failed, .exited:
                if plan.optional { continue }
                return .some(MusterError(.serviceFailed, "service \(plan.name) failed: \(snapshot.failure ?? "exited")"))
            default: return .none
            }
        }
        return .some(nil)
    }

    private func changed(_ snapshot: ServiceSnapshot, event: ServiceEvent?) async {
        snapshots[snapshot.name] = snapshot
        if let pid = snapshot.pid { groupsSeen.insert(pid) }
        if let event { record(event) }
        await evaluate()
        if startOutcome() != nil {
            let waiters = startWaiters
            startWaiters = []
            waiters.forEach { $0.resume() }
        }
    }

    private func record(_ event: ServiceEvent) {
        eventLog?.append(event)
        eventObservers.forEach { $0(event) }
        guard options.statusLines, let console = options.console else { return }
        console.line(StatusLine.format(event, snapshot: snapshots[event.service], console: console))
    }

    /// Starts every pending service whose dependencies are met; marks those whose
    /// dependencies can no longer be met.
    private func evaluate() async {
        guard !shuttingDown else { return }
        for plan in plans where !started.contains(plan.name) && blocked[plan.name] == nil {
            var ready = true
            for dependency in plan.dependsOn {
                guard let dep = snapshots[dependency.service] else { continue }  // not selected: assumed running
                if let reason = blocked[dependency.service] ?? impossible(dep, dependency.condition) {
                    blocked[plan.name] = "dependency \(dependency.service) \(reason)"
                    record(ServiceEvent(service: plan.name, type: "failed", reason: blocked[plan.name]))
                    ready = false
                    break
                }
                if !satisfied(dep, dependency.condition) { ready = false }
            }
            if ready && blocked[plan.name] == nil {
                started.insert(plan.name)
                let runner = runners[plan.name]
                Task { await runner?.send(.start) }
            }
        }
    }

    private func satisfied(_ snapshot: ServiceSnapshot, _ condition: DependencyCondition) -> Bool {
        switch condition {
        case .started: return snapshot.wasEverStarted
        case .ready: return snapshot.phase == .ready || snapshot.phase == .completed
        case .completed: return snapshot.phase == .completed
        }
    }

    private func impossible(_ snapshot: ServiceSnapshot, _ condition: DependencyCondition) -> String? {
        switch snapshot.phase {
        case .failed: return "failed" + (snapshot.failure.map { " (\($0))" } ?? "")
        case .stopped: return "was stopped"
        case .exited where condition != .started: return "exited"
        default: return nil
        }
    }

    /// Stops every service after its dependents, then makes sure nothing is left.
    /// Returns descriptions of processes that had to be killed at the end.
    @discardableResult
    public func shutdown() async -> [String] {
        shuttingDown = true
        let waiters = startWaiters
        startWaiters = []
        waiters.forEach { $0.resume() }
        var tasks: [String: Task<Void, Never>] = [:]
        for name in graph.startOrder().reversed() {
            let dependents = graph.dependents(of: name).compactMap { tasks[$0] }
            let runner = runners[name]
            tasks[name] = Task {
                for dependent in dependents { await dependent.value }
                await runner?.stop()
            }
        }
        for task in tasks.values { await task.value }
        return sweep()
    }

    /// A second Ctrl-C: kill every group now.
    public func forceKill() async {
        for runner in runners.values { await runner.forceKill() }
    }

    /// Kills and reports any process still alive in a process group or session the
    /// stack used: a straggler that survived the orderly stop.
    private func sweep() -> [String] {
        var leftovers: [String] = []
        for group in groupsSeen {
            for member in ProcessTable.members(ofGroup: group) {
                leftovers.append("pid \(member.pid) (\(ProcessTable.commandLine(member.pid) ?? "?"))")
                kill(member.pid, SIGKILL)
            }
        }
        return leftovers
    }

    /// The critical path: the chain of dependencies that decided the total start time.
    public func criticalPath() -> [ServiceSnapshot] {
        guard var current = plans.compactMap({ snapshots[$0.name] }).max(by: { ($0.readyAt ?? 0) < ($1.readyAt ?? 0) }) else { return [] }
        var path = [current]
        while let plan = plans.first(where: { $0.name == current.name }) {
            let deps = plan.dependsOn.compactMap { snapshots[$0.service] }
            guard let latest = deps.max(by: { ($0.readyAt ?? 0) < ($1.readyAt ?? 0) }) else { break }
            path.insert(latest, at: 0)
            current = latest
        }
        return path
    }
}

extension ProcessSpawner {
    /// Starts the spawner and reaper threads ahead of the first spawn.
    public func spawnIfNeeded() { ProcessReaper.shared.startIfNeeded() }
}
