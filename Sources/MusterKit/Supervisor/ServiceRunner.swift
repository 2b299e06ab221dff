import CMusterShims
import Foundation

/// Runs one service: feeds events to its `ServiceLifecycle` and performs the
/// actions it returns. It alone holds the service's pid, and signals only the
/// process group of an incarnation it has not yet seen exit, so a reused pid is
/// never hit.
actor ServiceRunner {
    typealias Listener = @Sendable (ServiceSnapshot, ServiceEvent?) async -> Void

    let plan: ServicePlan
    var machine: ServiceLifecycle
    let paths: ProjectPaths
    let console: Console?
    let prefix: LinePrefix?
    let clock = ContinuousClock()
    /// What the start, restart and stop timers wait on: injected, so tests run them in virtual time.
    let timers: any _Concurrency.Clock<Duration>
    let origin: ContinuousClock.Instant
    /// Changes go out through one queue, in the order they happened: awaiting the
    /// listener inside `send` would let another event overtake this one.
    let outbox: AsyncStream<(ServiceSnapshot, ServiceEvent?)>.Continuation
    let log: RotatingLog
    /// The log's descriptor; it stays the same across rotations.
    var logFD: Int32 { log.fd }

    var pump: OutputPump?
    var liveGroup: pid_t?
    var spawnedAt: ContinuousClock.Instant?
    var processStartedAt: Date?
    var startedAt: ContinuousClock.Instant?
    var readyAt: ContinuousClock.Instant?
    /// When the service last became unavailable (for the `available` event's duration).
    var unavailableSince: ContinuousClock.Instant?
    var readiness: Task<Void, Never>?
    var aliveness: Task<Void, Never>?
    var monitoring: [Task<Void, Never>] = []
    /// Restarts muster did not cause, seen by monitors or the alive probe's identity.
    var detected = 0
    var aliveIdentity = IdentityTracker()
    var exitTail: [String] = []
    /// Off during a whole-stack shutdown, whose final sweep covers every group at once.
    var scanForStragglers = true
    var startTimer: Task<Void, Never>?
    var restartTimer: Task<Void, Never>?
    var nextRestartReason: String?
    var stopTimer: Task<Void, Never>?
    /// While a stop command is out, the stop timer waits for the stop signal.
    var askingToStop = false
    var deferredStopTimer: (timeout: Duration, generation: Int)?
    var reapedGroup: pid_t?
    var notifySocket: NotifySocket?
    var signalProbe: SignalProbe?
    var lastProbeError: String?
    var downWaiters: [CheckedContinuation<Void, Never>] = []
    /// Every process of the current incarnation seen so far: the leader and its
    /// descendants, looked up when it became ready and at each step of a stop.
    var members: Set<ProcessInstance> = []
    /// Processes that were still there when muster gave up waiting for them.
    var survivors: [String] = []
    /// The wait for what an incarnation that exited by itself left behind.
    var releasing: Task<Void, Never>?
    var revision = 0
    /// When its last run completed (exit 0), for `ps`.
    var completedAt: Date?
    /// The `task: true` hint is given once per supervisor.
    var suggestedTask = false
    /// Why its last run was skipped (`skipped: snapshot for key 3f2a… is current`).
    var skippedReason: String?

    init(plan: ServicePlan, paths: ProjectPaths, console: Console?, prefix: LinePrefix?,
         origin: ContinuousClock.Instant, timers: any _Concurrency.Clock<Duration> = ContinuousClock(), listener: @escaping Listener) {
        self.plan = plan
        self.timers = timers
        self.machine = ServiceLifecycle(policy: plan.policy)
        self.paths = paths
        self.console = console
        self.prefix = prefix
        self.origin = origin
        let (updates, outbox) = AsyncStream.makeStream(of: (ServiceSnapshot, ServiceEvent?).self)
        self.outbox = outbox
        Task {
            for await (snapshot, event) in updates { await listener(snapshot, event) }
        }
        self.log = RotatingLog(path: paths.logFile(for: plan.name), limit: plan.logLimit)
    }

    deinit {
        outbox.finish()
    }

    var snapshot: ServiceSnapshot {
        ServiceSnapshot(
            name: plan.name, phase: machine.phase, pid: machine.phase.isDown ? nil : machine.pid,
            restarts: machine.restarts, port: plan.port, wasEverStarted: machine.wasEverStarted,
            wasEverReady: machine.wasEverReady, optional: plan.optional, failure: machine.failure,
            startedAt: startedAt.map { seconds(since: origin, to: $0) },
            readyAt: readyAt.map { seconds(since: origin, to: $0) },
            processStartedAt: processStartedAt, available: machine.available, kind: plan.kind, restartsDetected: detected,
            revision: revision, isTask: plan.policy.isTask, completedAt: machine.phase == .completed ? completedAt : nil,
            skipped: machine.phase == .completed ? skippedReason : nil)
    }

    func lastLines(_ count: Int) -> [String] {
        pump?.lastLines(count) ?? []
    }

    /// Feeds one event to the state machine and carries out what it asks.
    /// Queued to start again (`ServiceLifecycle.Event.queue`); the snapshot it leaves.
    func queue() async -> ServiceSnapshot {
        await send(.queue)
        return snapshot
    }

    /// Why the next restart happens, told in its `restarted` event instead of
    /// `restart requested` (a file change: `files changed: app/api.py`).
    func setNextRestartReason(_ reason: String?) { nextRestartReason = reason }

    func send(_ event: ServiceLifecycle.Event) async {
        revision += 1
        if event == .start || event == .restart { startedAt = clock.now; readyAt = nil }
        let phaseBefore = machine.phase
        let wasCompleted = phaseBefore == .completed
        let actions = machine.handle(event)
        if (machine.phase == .ready || machine.phase == .completed), readyAt == nil { readyAt = clock.now }
        // A one-shot that is not a task is "ready" the moment it spawns; what counts is when it completed.
        if machine.phase == .completed, !wasCompleted, !plan.policy.hasReadyProbe { readyAt = clock.now }
        let hint = noteCompletion(of: event, wasCompleted: wasCompleted)
        var records: [LifecycleRecord] = []
        for action in actions {
            if case let .record(record) = action { records.append(record) } else { perform(action) }
        }
        for record in records {
            outbox.yield((snapshot, serviceEvent(for: record)))
        }
        if let hint { outbox.yield((snapshot, hint)) }
        // An event that changed nothing (most alive-probe looks) tells the supervisor nothing.
        if records.isEmpty, !actions.isEmpty || machine.phase != phaseBefore { outbox.yield((snapshot, nil)) }
        if machine.phase.isDown {
            let waiters = downWaiters
            downWaiters = []
            waiters.forEach { $0.resume() }
        }
    }

    /// Asks the service to stop and returns once no process of it runs.
    func stop() async {
        Trace.mark("\(plan.name) stop asked")
        await send(.stop)
        await untilDown()
        await releasing?.value
    }

    func skipStragglerScan() { scanForStragglers = false }

    /// SIGKILL now (a second Ctrl-C).
    func forceKill() {
        killEveryMember()
    }

    func untilDown() async {
        if machine.phase.isDown { return }
        await withCheckedContinuation { downWaiters.append($0) }
    }

    func serviceEvent(for record: LifecycleRecord) -> ServiceEvent {
        var tail: [String] = []
        var reason = record.reason
        if record.kind == .exited || record.kind == .failed {
            tail = lastLines(20)
            exitTail = tail
        } else if record.kind == .stopping, reason == "restart requested", let override = nextRestartReason {
            reason = "restart requested: " + override
        } else if record.kind == .restarted {
            tail = exitTail  // the incarnation that ended, not the one just started
            if let override = nextRestartReason {
                reason = override
                nextRestartReason = nil
            }
            reason = plan.restartReason(reason)
        }
        return ServiceEvent(service: plan.name, type: EventKind(record.kind), pid: record.pid, previousPid: record.previousPid,
                            restarts: record.restarts, reason: reason, logTail: tail)
    }

    // MARK: - Actions

    func perform(_ action: ServiceLifecycle.Action) {
        switch action {
        case let .spawn(generation):
            Task { await self.spawn(generation: generation) }
        case let .watchReadiness(generation):
            watchReadiness(generation: generation)
        case .armStartTimer:
            startTimer?.cancel()
            guard let spec = plan.ready?.spec else { return }
            let deadline = TimerDeadline(timers, after: spec.startTimeout)
            startTimer = Task {
                guard (try? await deadline.wait()) != nil else { return }
                let detail = self.lastProbeError.map { ": \($0)" } ?? ""
                await self.send(.startTimedOut("not ready after \(DurationParser.format(spec.startTimeout)) (probe \(spec.kind.display)\(detail))"))
            }
        case .cancelStartTimer:
            startTimer?.cancel()
            startTimer = nil
        case let .watchAliveness(generation):
            gatherMembers()
            watchAliveness(generation: generation)
            startMonitors()
        case .stopProbes:
            readiness?.cancel()
            aliveness?.cancel()
            readiness = nil
            aliveness = nil
            monitoring.forEach { $0.cancel() }
            monitoring = []
            pump?.observeLines(nil)
        case let .scheduleRestart(delay):
            restartTimer?.cancel()
            let deadline = TimerDeadline(timers, after: delay)
            restartTimer = Task {
                guard (try? await deadline.wait()) != nil else { return }
                await self.send(.backoffElapsed)
            }
        case .cancelRestart:
            restartTimer?.cancel()
            restartTimer = nil
        case let .signalGroup(signal):
            guard let group = liveGroup else { return }
            gatherMembers()
            if signal == plan.policy.stopSignal, machine.stopStage == .asked, let command = plan.stopCommand {
                askingToStop = true
                Task { await self.askToStop(group: group, signal: signal, command: command) }
            } else {
                ProcessTable.signalGroup(group, signal)
            }
        case let .armStopTimer(timeout, generation):
            if askingToStop {
                deferredStopTimer = (timeout, generation)
            } else {
                armStopTimer(timeout, generation: generation)
            }
        case .killGroup:
            killEveryMember()
        case let .warn(text):
            warn(text)
        case let .announceAvailability(available, reason):
            announce(available: available, reason: reason)
        case .record:
            break
        }
    }

    func spawn(generation: Int) async {
        Trace.mark("\(plan.name) spawn begins")
        // What the last incarnation left behind goes first (Postgres: its shared memory).
        await releasing?.value
        // A task's first run is skipped when what it would make is already there.
        if generation == 1, let check = plan.skipCheck,
           let reason = await check(PreStartContext(service: plan.name, logFD: logFD)) {
            skippedReason = reason
            await send(.skipped(reason, generation: generation))
            return
        }
        skippedReason = nil
        do {
            let context = PreStartContext(service: plan.name, logFD: logFD)
            for step in plan.preStart { try await step(context) }
        } catch {
            await send(.spawnFailed(describe(error)))
            return
        }
        var fds: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&fds) == 0 else {
            await send(.spawnFailed("cannot create a pipe: \(String(cString: strerror(errno)))"))
            return
        }
        // Output reaches the console only when it is mirrored there (foreground up);
        // the detached supervisor's console is its own log, not the services'.
        let pump = OutputPump(fd: fds[0], log: log, prefix: prefix, console: prefix == nil ? nil : console, label: plan.name)
        let probe = SignalProbe()
        var environment = plan.environment
        if case let .log(regex, _)? = plan.ready { pump.observeLines(probe.logMatcher(regex)) }
        if case .notify? = plan.ready {
            let path = paths.runtimeDir + "/notify-\(plan.name).sock"
            do {
                notifySocket?.close()
                notifySocket = try NotifySocket(path: path, probe: probe)
                environment["NOTIFY_SOCKET"] = path
            } catch {
                close(fds[0]); close(fds[1])
                await send(.spawnFailed(describe(error)))
                return
            }
        }
        signalProbe = probe
        pump.start()
        Trace.mark("\(plan.name) prepared")
        var request = SpawnRequest(executable: plan.executable, arguments: plan.argv,
                                   environment: environment.map { "\($0.key)=\($0.value)" }.sorted(),
                                   workingDirectory: plan.workingDir)
        request.outputFD = fds[1]
        if let credentials = plan.credentials { request.credentials = (credentials.uid, credentials.gid) }
        let pid: pid_t
        do {
            pid = try await ProcessSpawner.shared.spawn(request)
        } catch {
            close(fds[1])
            pump.cancel()
            await send(.spawnFailed(describe(error)))
            return
        }
        close(fds[1])
        Trace.mark("\(plan.name) spawned")
        Guardian.shared.register(group: pid)
        self.pump = pump
        liveGroup = pid
        members = ProcessTable.instance(pid).map { [$0] } ?? []
        spawnedAt = clock.now
        processStartedAt = Date()
        Task { await self.watchExit(pid: pid, generation: generation, pump: pump) }
        await send(.spawned(pid: pid, generation: generation))
    }

    func watchExit(pid: pid_t, generation: Int, pump: OutputPump) async {
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        reapedGroup = pid
        Trace.mark("\(plan.name) reaped")
        ProcessReaper.shared.forget(pid)
        // Whatever the leader left behind in its group goes with it.
        if scanForStragglers { ProcessTable.signalGroup(pid, SIGKILL) } else { kill(-pid, SIGKILL) }
        stopTimer?.cancel()
        // A stop is over only once every process of it is gone (and what it held is
        // free). An exit nobody asked for is reported at once, as it happened; what the
        // main process left behind is waited for before the next start (`spawn`) and
        // before a later stop counts as done.
        let check = ReleaseCheck(members: members, extra: plan.releaseCheck)
        if machine.phase == .stopping {
            await awaitRelease(check)
        } else {
            releasing = Task { await self.awaitRelease(check) }
        }
        await pump.waitForEOF(timeout: .milliseconds(200))
        Trace.mark("\(plan.name) output closed")
        Guardian.shared.unregister(group: pid)
        let uptime = spawnedAt.map { clock.now - $0 } ?? .zero
        if liveGroup == pid { liveGroup = nil }
        await send(.exited(await afterCompletion(status), uptime: uptime, generation: generation))
    }

    /// Runs the plan's after-completion steps when a task ended well; a step that
    /// fails turns the exit into a failure, with the reason in the service's log.
    func afterCompletion(_ status: ExitStatus) async -> ExitStatus {
        guard status.isSuccess, !plan.afterCompletion.isEmpty, plan.policy.restart != .always, machine.phase != .stopping else {
            return status
        }
        do {
            let context = PreStartContext(service: plan.name, logFD: logFD)
            for step in plan.afterCompletion { try await step(context) }
            return status
        } catch {
            writeAll(logFD, "muster: \(describe(error))\n")
            return .exited(1)
        }
    }

    func watchReadiness(generation: Int) {
        readiness?.cancel()
        guard let ready = plan.ready else { return }
        let probe = signalProbe
        readiness = Task { [clock] in
            switch ready {
            case .log, .notify:
                await probe?.wait()
            case let .polling(check, spec):
                let begin = clock.now
                let schedule = ProbeSchedule(interval: spec.interval)
                while !Task.isCancelled {
                    let outcome = await check.check()
                    if outcome.passed { break }
                    if case let .failed(reason) = outcome { self.noteProbeError(reason) }
                    let delay = schedule.delay(afterWaiting: clock.now - begin)
                    guard (try? await clock.sleep(for: delay)) != nil else { return }
                }
            }
            guard !Task.isCancelled else { return }
            await self.send(.readyPassed(generation: generation))
        }
    }

    func describe(_ error: Error) -> String {
        (error as? MusterError)?.message ?? "\(error)"
    }

    func seconds(since start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Double {
        (end - start).seconds
    }
}

/// A timer's deadline on the injected clock, fixed when the timer is armed (not when
/// its task first runs), so a test that moves the clock right after seeing the phase
/// change still fires it at the right moment.
struct TimerDeadline: Sendable {
    let wait: @Sendable () async throws -> Void

    init<C: _Concurrency.Clock>(_ clock: C, after duration: Duration) where C.Duration == Duration {
        let deadline = clock.now.advanced(by: duration)
        wait = { try await clock.sleep(until: deadline, tolerance: nil) }
    }
}
