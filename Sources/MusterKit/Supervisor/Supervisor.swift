import Foundation

/// Starts a stack's services, each the moment its own dependencies are met, and
/// stops them in reverse dependency order. Runners decide; the supervisor orders.
public actor Supervisor {
    public struct Options: Sendable {
        /// Where service output and status lines go; nil keeps them out of the terminal.
        public var console: Console?
        /// Prints muster's own status lines (`api ready in 0.42s`).
        public var statusLines: Bool
        /// Copies every service's output to the console, prefixed with its name.
        public var mirrorOutput: Bool
        /// The clock everything waits on (probes, monitors, the start, restart and stop
        /// timers, the stop command's grace, the wait for an outcome) and times are
        /// stamped with; tests give one whose time they move.
        public var timers: any _Concurrency.Clock<Duration>
        public init(
            console: Console?, statusLines: Bool = true, mirrorOutput: Bool = true,
            timers: any _Concurrency.Clock<Duration> = ContinuousClock()
        ) {
            self.console = console
            self.statusLines = statusLines
            self.mirrorOutput = mirrorOutput
            self.timers = timers
        }
    }

    public let paths: ProjectPaths
    public let plans: [ServicePlan]
    let graph: DependencyGraph
    /// Service names in plan order, and each one's dependencies, for `evaluate`.
    private let order: [String]
    private let dependencyTable: [String: [Dependency]]
    private let options: Options
    private let eventLog: EventLog?
    /// The supervisor's one clock (`Options.timers`); deadlines are its moments.
    public nonisolated let time: Timebase
    /// The supervisor's own tasks (starts it hands to runners, deadlines); cancelled as one.
    let scope = TaskScope()
    var runners: [String: ServiceRunner] = [:]
    var snapshots: [String: ServiceSnapshot] = [:]
    var started = Set<String>()
    /// Services that never started because a dependency failed, with why.
    var blocked: [String: String] = [:]
    /// Services that should be up: what `start` asked for, less what `stop` took away.
    var wanted = Set<String>()
    /// Services a file change acts on, for `ps --json` and the interactive view.
    var watched = Set<String>()
    private var changeWaiters: [CheckedContinuation<Void, Never>] = []
    var shuttingDown = false
    private(set) var groupsSeen = Set<pid_t>()
    private var eventObservers: [@Sendable (ServiceEvent) -> Void] = []
    private var groupObservers: [@Sendable (Set<pid_t>) -> Void] = []

    public init(plans: [ServicePlan], paths: ProjectPaths, options: Options, eventLog: EventLog?) {
        self.plans = plans
        self.paths = paths
        self.options = options
        self.eventLog = eventLog
        self.time = Timebase(options.timers)
        let names = plans.map(\.name)
        let deps = Dictionary(
            uniqueKeysWithValues: plans.map { plan in
                (plan.name, plan.dependsOn.map(\.service).filter(names.contains))
            })
        self.graph = DependencyGraph(names: names, dependencies: deps)
        self.order = names
        self.dependencyTable = Dictionary(uniqueKeysWithValues: plans.map { ($0.name, $0.dependsOn) })
    }

    public func onEvent(_ observer: @escaping @Sendable (ServiceEvent) -> Void) {
        eventObservers.append(observer)
    }

    /// Called with every process group the stack has used, each time a new one appears.
    public func onNewGroup(_ observer: @escaping @Sendable (Set<pid_t>) -> Void) {
        groupObservers.append(observer)
    }

    /// Starts everything and returns once all services are ready (or completed),
    /// or throws the first required failure (with the service's last log lines).
    public func start() async throws {
        try await start(plans.map(\.name))
    }

    /// Starts the named services and what they depend on, and returns once they
    /// are all ready (or completed), or throws the first required failure.
    /// Services already running are left alone; stopped, failed or exited ones in
    /// the set start again, and a completed task runs again only when named and
    /// `rerunTasks` is set.
    public func start(_ names: [String], rerunTasks: Bool = false, deadline: Timebase.Moment? = nil) async throws {
        prepareRunners()
        let closure = graph.closure(of: names)
        for name in closure {
            let phase = snapshots[name]?.phase ?? .pending
            let again =
                [.stopped, .failed, .exited].contains(phase)
                || (phase == .completed && rerunTasks && names.contains(name))
            if again || blocked[name] != nil {
                started.remove(name)
                blocked[name] = nil
                // Queued to start again: not "stopped" or "failed" for whoever waits on it.
                if let runner = runners[name] { snapshots[name] = await runner.queue() }
            }
        }
        wanted.formUnion(closure)
        await evaluate()
        if let failure = await waitForOutcome(of: closure, deadline: deadline) { throw failure }
        Trace.mark("supervisor: services up")
        // The start-up burst is over: spare Postgres clusters may be copied now.
        await TemplateSpares.shared.stackStarted()
    }

    /// Creates one runner per service, once.
    func prepareRunners() {
        guard runners.isEmpty else { return }
        Trace.mark("supervisor: starting runners")
        defer { Trace.mark("supervisor: runners ready") }
        ProcessSpawner.shared.spawnIfNeeded()
        Guardian.shared.start()
        let width = plans.map(\.name.count).max() ?? 0
        for (index, plan) in plans.enumerated() {
            let console = options.console
            let prefix =
                options.mirrorOutput
                ? console.map {
                    LinePrefix(
                        name: plan.name, width: max(width, 6), style: Console.palette[index % Console.palette.count],
                        console: $0)
                } : nil
            let runner = ServiceRunner(plan: plan, paths: paths, console: console, prefix: prefix, time: time) {
                [weak self] snapshot, event in
                await self?.changed(snapshot, event: event)
            }
            runners[plan.name] = runner
            snapshots[plan.name] = ServiceSnapshot.initial(plan)
        }
    }

    /// Waits until every service of `names` is up or one has failed; nil means up.
    func waitForOutcome(of names: Set<String>, deadline: Timebase.Moment?) async -> MusterError? {
        var timer: ScopedTask?
        if let deadline {
            timer = scope.launch { [weak self, time] in
                guard (try? await time.sleep(until: deadline)) != nil else { return }
                await self?.wakeWaiters()
            }
        }
        defer { timer?.cancel() }
        while true {
            if shuttingDown { return MusterError(.serviceFailed, "the stack is shutting down") }
            if let outcome = outcome(of: names) { return outcome }
            if let deadline, time.now >= deadline { return notReadyError(names) }
            await withCheckedContinuation { changeWaiters.append($0) }
        }
    }

    private func notReadyError(_ names: Set<String>) -> MusterError {
        let waiting = plans.filter { names.contains($0.name) }.compactMap { plan -> String? in
            guard let snapshot = snapshots[plan.name], snapshot.phase != .completed,
                snapshot.phase != .ready || plan.policy.isTask
            else { return nil }
            return
                "\(plan.name) (\(plan.policy.isTask && !snapshot.phase.isDown ? "a task, still running" : snapshot.phase.rawValue))"
        }
        return MusterError(
            .serviceFailed,
            "service \(waiting.first?.split(separator: " ").first ?? "?") is not ready in time; still waiting for \(waiting.joined(separator: ", ")); raise --timeout or check its ready probe"
        )
    }

    func wakeWaiters() {
        let waiters = changeWaiters
        changeWaiters = []
        waiters.forEach { $0.resume() }
    }

    public func snapshot() -> [ServiceSnapshot] {
        plans.compactMap { snapshots[$0.name] }
    }

    /// Every service as `ps` shows it.
    public func statuses() -> [ServiceStatus] {
        plans.map {
            ServiceStatus(
                snapshots[$0.name] ?? .initial($0), wanted: wanted.contains($0.name), watched: watched.contains($0.name)
            )
        }
    }

    func runner(_ name: String) -> ServiceRunner? { runners[name] }

    public func lastLines(of service: String, count: Int) async -> [String] {
        await runners[service]?.lastLines(count) ?? []
    }

    /// nil: still starting; .some(nil): every service of `names` is up;
    /// .some(error): a required one failed.
    func outcome(of names: Set<String>) -> MusterError?? {
        for plan in plans where names.contains(plan.name) {
            guard let snapshot = snapshots[plan.name] else { return .none }
            if let reason = blocked[plan.name] {
                if plan.optional { continue }
                return .some(MusterError(.serviceFailed, "service \(plan.name) did not start: \(reason)"))
            }
            switch snapshot.phase {
            // A task is up once it has completed (and the steps after it, such as a snapshot, ran).
            case .ready where plan.policy.isTask || !plan.afterCompletion.isEmpty: return .none
            case .ready, .completed: continue
            case .failed, .exited, .stopped:
                if plan.optional { continue }
                let why = snapshot.phase == .stopped ? "was stopped" : (snapshot.failure ?? "exited")
                return .some(MusterError(.serviceFailed, "service \(plan.name) failed: \(why)"))
            case .pending where !wanted.contains(plan.name):
                return .some(MusterError(.serviceFailed, "service \(plan.name) is not running"))
            default: return .none
            }
        }
        return .some(nil)
    }

    private func changed(_ snapshot: ServiceSnapshot, event: ServiceEvent?) async {
        accept(snapshot)
        if let pid = snapshot.pid, !groupsSeen.contains(pid) {
            groupsSeen.insert(pid)
            groupObservers.forEach { $0(groupsSeen) }
        }
        if let event { record(event) }
        await evaluate()
        wakeWaiters()
    }

    /// Keeps the newest state of a service: queued snapshots older than one read
    /// directly from the runner are stale.
    private func accept(_ snapshot: ServiceSnapshot) {
        if let current = snapshots[snapshot.name], current.revision > snapshot.revision { return }
        snapshots[snapshot.name] = snapshot
    }

    /// Reads a service's state from its runner now, ahead of its queued updates, so
    /// that a waiter never mistakes the state before an operation for its outcome.
    func refresh(_ name: String) async {
        guard let runner = runners[name] else { return }
        accept(await runner.snapshot)
    }

    func record(_ event: ServiceEvent) {
        eventLog?.append(event)
        eventObservers.forEach { $0(event) }
        guard options.statusLines, let console = options.console else { return }
        console.line(StatusLine.format(event, snapshot: snapshots[event.service], console: console))
    }

    /// Starts every wanted service whose dependencies are met; marks those whose
    /// dependencies can no longer be met.
    private func evaluate() async {
        guard !shuttingDown else { return }
        // Names and dependency lists only: copying each plan (with its closures) on
        // every change made starting hundreds of services quadratic.
        for name in order where wanted.contains(name) && !started.contains(name) && blocked[name] == nil {
            var ready = true
            for dependency in dependencyTable[name] ?? [] {
                guard let dep = snapshots[dependency.service] else { continue }
                // Wanted but not yet launched (or launched a moment ago): wait for it.
                let pending =
                    wanted.contains(dependency.service)
                    && (!started.contains(dependency.service) || dep.phase == .pending)
                if !pending, let reason = blocked[dependency.service] ?? impossible(dep, dependency.condition) {
                    blocked[name] = "dependency \(dependency.service) \(reason)"
                    record(ServiceEvent(service: name, type: .failed, reason: blocked[name], time: time.date))
                    ready = false
                    break
                }
                if !satisfied(dep, dependency.condition) { ready = false }
            }
            if ready && blocked[name] == nil {
                started.insert(name)
                let runner = runners[name]
                scope.launch { await runner?.send(.start) }
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
        case .pending: return "is not running"
        default: return nil
        }
    }

    /// Stops every service after its dependents, then makes sure nothing is left.
    /// Returns descriptions of processes that had to be killed at the end.
    @discardableResult
    public func shutdown() async -> [String] {
        Trace.mark("supervisor: shutdown begins")
        shuttingDown = true
        wakeWaiters()
        await TemplateSpares.shared.hold()
        // The sweep below looks for stragglers of every group in one pass.
        for runner in runners.values { await runner.skipStragglerScan() }
        Trace.mark("supervisor: stopping in order")
        await stopInOrder(Set(plans.map(\.name)))
        Trace.mark("supervisor: all stopped")
        await TemplateSpares.shared.finish()
        Trace.mark("supervisor: spares owed made")
        defer { Trace.mark("supervisor: swept") }
        var left: [String] = []
        for name in graph.startOrder(of: Set(plans.map(\.name))) { left += await runners[name]?.leftBehind() ?? [] }
        return left + (await sweep())
    }

    /// A second Ctrl-C: kill every group now.
    public func forceKill() async {
        for runner in runners.values { await runner.forceKill() }
    }

    /// Kills and reports any process still in a process group or session the stack
    /// used (a straggler that survived the orderly stop), then waits until those are
    /// gone: killed is not gone. Each finding is one phrase for `down` to print.
    private func sweep() async -> [String] {
        await ProcessSweep.killAndAwait(ProcessTable.present(inGroups: groupsSeen), within: .seconds(10), on: time)
    }

    /// The critical path: the chain of dependencies that decided the total start time.
    public func criticalPath() -> [ServiceSnapshot] {
        guard var current = plans.compactMap({ snapshots[$0.name] }).max(by: { ($0.readyAt ?? 0) < ($1.readyAt ?? 0) })
        else { return [] }
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
