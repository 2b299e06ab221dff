import Foundation

/// A running stack with its control API: what `muster up` (foreground) and the
/// detached supervisor behind `muster up -d` both are. It answers the control
/// socket, runs one operation at a time, and shuts down exactly once.
/// Unchecked: its mutable fields are guarded by its lock; operations go through one AsyncGate.
public final class StackHost: ControlHandler, @unchecked Sendable {
    public let session: StackSession
    public var paths: ProjectPaths { session.paths }
    private var server: ControlServer?
    private let gate = AsyncGate()
    private let lock = NSLock()
    private var shutdownTask: Task<OperationResult, Never>?
    private var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    private var isClosing = false
    private var watch: StackWatch?
    /// Process groups of `watch:` build steps under way, killed by a shutdown.
    private var builds = Set<pid_t>()

    /// Snapshots, restores and clones of the stack's Postgres databases.
    public var desk: DatabaseDesk { session.desk }

    public init(session: StackSession) {
        self.session = session
    }

    func noteBuild(_ group: pid_t, running: Bool) {
        lock.lock()
        if running { builds.insert(group) } else { builds.remove(group) }
        let kill = running && isClosing
        lock.unlock()
        if kill { ProcessTable.signalGroup(group, SIGKILL) }
    }

    func setWatch(_ watch: StackWatch) {
        lock.lock()
        self.watch = watch
        lock.unlock()
    }

    /// Runs `body` when no other operation (start, stop, restart) is under way.
    func runExclusively(_ body: () async -> Void) async {
        await gate.run { await body() }
    }

    public var closing: Bool {
        lock.lock()
        defer { lock.unlock() }
        return isClosing
    }

    /// Opens the control socket.
    public func open() async throws {
        let server = ControlServer(socketPath: paths.controlSocket, handler: self)
        try await server.start()
        self.server = server
    }

    /// Starts the selected services; fails after `timeout` when given.
    public func start(timeout: Duration? = nil) async -> OperationResult {
        let deadline = timeout.map { session.supervisor.time.deadline(after: $0) }
        return await gate.run {
            do {
                try await session.start(deadline: deadline)
                var result = OperationResult(ok: true)
                result.timeline = await session.timeline()
                result.services = await session.supervisor.statuses()
                return result
            } catch {
                return OperationResult(await describe(error))
            }
        }
    }

    /// A detached supervisor: the work a start leaves for later (spare clusters, the
    /// template cache's pruning) waits until `reported`, so that none of it runs beside
    /// the report that ends `up -d`.
    public static func backgroundWorkAwaitsReport() async {
        await TemplateSpares.shared.awaitReport()
    }

    /// The detached supervisor told `up -d` how the start went.
    public static func reported() async {
        await TemplateSpares.shared.reported()
    }

    public func status() async -> StatusReport {
        let groups = await session.supervisor.groupsSeen
        return StatusReport(
            project: paths.project, running: true, supervisorPid: getpid(), stackFile: session.stack.file,
            started: EventLog.timestamp(session.startedAt),
            services: await session.supervisor.statuses(), groups: groups.sorted())
    }

    public func database(_ action: DatabaseAction, _ request: DatabaseRequest) async -> DatabaseResult {
        if closing { return DatabaseResult(MusterError(.notRunning, "project \(paths.project) is shutting down")) }
        return await desk.perform(action, request)
    }

    public func environment() async -> [String: String] {
        Dictionary(uniqueKeysWithValues: RuntimeState.variables(of: session.outputs))
    }

    public func perform(_ action: ControlAction, _ request: OperationRequest) async -> OperationResult {
        if closing { return OperationResult(MusterError(.notRunning, "project \(paths.project) is shutting down")) }
        let deadline = request.timeoutMs.map { session.supervisor.time.deadline(after: .milliseconds($0)) }
        let supervisor = session.supervisor
        return await gate.run {
            do {
                var result = OperationResult(ok: true)
                switch action {
                case .start:
                    // None named: everything, as a second `up -d` means; completed tasks stay done.
                    let profiles = Set(request.profiles ?? [])
                    let planned = Set(supervisor.plans.map(\.name))
                    let names =
                        request.services.isEmpty
                        ? session.stack.services.filter {
                            $0.isEnabled(profiles: profiles) && planned.contains($0.name)
                        }.map(\.name)
                        : request.services
                    try await supervisor.checkNames(names)
                    try await supervisor.start(names, rerunTasks: !request.services.isEmpty, deadline: deadline)
                case .stop:
                    guard !request.services.isEmpty else {
                        throw MusterError(.usage, "name the services to stop; muster down stops everything")
                    }
                    let stopped = try await supervisor.stop(request.services)
                    result.affected = stopped.filter { !request.services.contains($0) }
                case .restart:
                    guard !request.services.isEmpty else {
                        throw MusterError(.usage, "name the services to restart")
                    }
                    result.affected = try await supervisor.restart(
                        request.services, withDependents: !(request.noDeps ?? false),
                        deadline: deadline)
                }
                result.services = await supervisor.statuses()
                return result
            } catch {
                return OperationResult(await describe(error))
            }
        }
    }

    /// Stops everything once; later calls wait for the first and get its answer.
    public func shutdown() async -> OperationResult {
        Trace.mark("host: shutdown asked")
        let result = await shutdownOnce().value
        takeShutdownWaiters().forEach { $0.resume() }
        return result
    }

    private func shutdownOnce() -> Task<OperationResult, Never> {
        lock.lock()
        defer { lock.unlock() }
        isClosing = true
        if let existing = shutdownTask { return existing }
        let watch = self.watch
        self.watch = nil
        let builds = self.builds
        let task = Task {
            // No change acts once the stack goes down; an action under way ends with it,
            // and a build step under way is killed.
            watch?.stopWatching()
            for group in builds { ProcessTable.signalGroup(group, SIGKILL) }
            // What ran, as it was before the stop: `down` checks these ports and groups.
            let before = await self.session.supervisor.statuses()
            let leftovers = await self.session.stop()
            await watch?.finish()
            var result = OperationResult(ok: true)
            result.services = before
            result.groups = await self.session.supervisor.groupsSeen.sorted()
            result.leftovers = leftovers
            return result
        }
        shutdownTask = task
        return task
    }

    private func takeShutdownWaiters() -> [CheckedContinuation<Void, Never>] {
        lock.lock()
        defer { lock.unlock() }
        let waiters = shutdownWaiters
        shutdownWaiters = []
        return waiters
    }

    private func markClosing() {
        lock.lock()
        isClosing = true
        lock.unlock()
    }

    /// Returns once a shutdown (from the API or a signal) has finished.
    public func waitUntilShutDown() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let task = shutdownTask {
                lock.unlock()
                Task {
                    _ = await task.value; continuation.resume()
                }
                return
            }
            shutdownWaiters.append(continuation)
            lock.unlock()
        }
    }

    /// Closes the control socket after the answers in flight are delivered.
    public func close() async {
        markClosing()
        await server?.stop()
    }

    private func describe(_ error: Error) async -> MusterError {
        guard let error = error as? MusterError else { return MusterError(.serviceFailed, "\(error)") }
        return await session.withLogTail(error)
    }
}
