import Foundation

/// Runs one service: feeds events to its `ServiceLifecycle` and performs the
/// actions it returns. The lifecycle decides everything (phases, the stop ladder,
/// when a task counts as ready, alive-probe failures, detected restarts); the runner
/// holds only the service's processes and the tasks that wait on them, and reports
/// what happened, with when, on its timebase. It alone holds the service's pid, and
/// signals only the process group of an incarnation it has not yet seen exit, so a
/// reused pid is never hit.
actor ServiceRunner {
    typealias Listener = @Sendable (ServiceSnapshot, ServiceEvent?) async -> Void

    let plan: ServicePlan
    var machine: ServiceLifecycle
    let paths: ProjectPaths
    let console: Console?
    let prefix: LinePrefix?
    /// What every wait takes and every time is stamped with: injected, so tests run
    /// timers, probes and monitors in virtual time.
    let time: Timebase
    /// The runner's own tasks (spawns, exits, timers, release waits); cancelled as one.
    let scope = TaskScope()
    /// Changes go out through one queue, in the order they happened: awaiting the
    /// listener inside `send` would let another event overtake this one.
    let outbox: AsyncStream<(ServiceSnapshot, ServiceEvent?)>.Continuation
    let log: RotatingLog
    /// The log's descriptor; it stays the same across rotations.
    var logFD: Int32 { log.fd }

    var pump: OutputPump?
    var liveGroup: pid_t?
    var processStartedAt: Date?
    /// The ready probe, the alive probe and the monitors of the current incarnation:
    /// one scope, cancelled as one when the lifecycle stops watching.
    var watching: TaskScope?
    /// Off during a whole-stack shutdown, whose final sweep covers every group at once.
    var scanForStragglers = true
    var startTimer: ScopedTask?
    var restartTimer: ScopedTask?
    var stopTimer: ScopedTask?
    var reapedGroup: pid_t?
    var notifySocket: NotifySocket?
    var signalProbe: SignalProbe?
    var downWaiters: [CheckedContinuation<Void, Never>] = []
    /// Every process of the current incarnation seen so far: the leader and its
    /// descendants, looked up when it became ready and at each step of a stop.
    var members: Set<ProcessInstance> = []
    /// Processes that were still there when muster gave up waiting for them.
    var survivors: [String] = []
    /// The wait for what an incarnation that exited by itself left behind.
    var releasing: ScopedTask?
    var revision = 0

    init(
        plan: ServicePlan, paths: ProjectPaths, console: Console?, prefix: LinePrefix?,
        time: Timebase, listener: @escaping Listener
    ) {
        self.plan = plan
        self.time = time
        var policy = plan.policy
        policy.stopCommand = plan.stopCommand?.name
        if case let .polling(_, spec)? = plan.alive { policy.aliveFailures = spec.failures }
        self.machine = ServiceLifecycle(policy: policy)
        self.paths = paths
        self.console = console
        self.prefix = prefix
        let (updates, outbox) = AsyncStream.makeStream(of: (ServiceSnapshot, ServiceEvent?).self)
        self.outbox = outbox
        scope.launch {
            for await (snapshot, event) in updates { await listener(snapshot, event) }
        }
        self.log = RotatingLog(path: paths.logFile(for: plan.name), limit: plan.logLimit)
    }

    deinit {
        outbox.finish()
        watching?.cancelAll()
    }

    var snapshot: ServiceSnapshot {
        let times = machine.times
        return ServiceSnapshot(
            name: plan.name, phase: machine.phase, pid: machine.phase.isDown ? nil : machine.pid,
            restarts: machine.restarts, port: plan.port, wasEverStarted: machine.wasEverStarted,
            wasEverReady: machine.wasEverReady, optional: plan.optional, failure: machine.failure,
            startedAt: times.started?.seconds, readyAt: times.ready?.seconds,
            processStartedAt: processStartedAt, available: machine.available, kind: plan.kind,
            restartsDetected: machine.restartsDetected, revision: revision, isTask: plan.policy.isTask,
            completedAt: machine.phase == .completed ? times.completed.map(time.date(at:)) : nil,
            skipped: machine.phase == .completed ? machine.skipped : nil)
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

    /// Why the next restart happens, told in its events instead of `restart requested`
    /// (a file change: `files changed: app/api.py`).
    func setNextRestartReason(_ reason: String?) { _ = machine.handle(.restartReason(reason), at: time.now) }

    /// Hands `event` to the lifecycle with the moment it happened, performs the actions
    /// it returns, then tells what it has to tell, in its order.
    func send(_ event: ServiceLifecycle.Event) async {
        revision += 1
        let phaseBefore = machine.phase
        let actions = machine.handle(event, at: time.now)
        var news: [ServiceEvent] = []
        for action in actions {
            if let told = tell(action) { news.append(told) } else { perform(action) }
        }
        for told in news { outbox.yield((snapshot, told)) }
        // An event that changed nothing (most alive-probe looks) tells the supervisor nothing.
        if news.isEmpty, !actions.isEmpty || machine.phase != phaseBefore { outbox.yield((snapshot, nil)) }
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
        await releasing?.finished()
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

    /// The event an action tells, stamped with the timebase's time; nil for an action to perform.
    func tell(_ action: ServiceLifecycle.Action) -> ServiceEvent? {
        var event = self.event(for: action)
        event?.time = EventLog.timestamp(time.date)
        return event
    }

    private func event(for action: ServiceLifecycle.Action) -> ServiceEvent? {
        let pid = machine.pid, restarts = machine.restarts
        switch action {
        case var .record(record):
            record.service = plan.name
            if record.type == .restarted { record.reason = plan.restartReason(record.reason) }
            return record
        case let .warn(text):
            return ServiceEvent(service: plan.name, type: .warning, pid: pid, restarts: restarts, reason: text)
        case let .announceAvailability(available, reason, after):
            return available
                ? ServiceEvent(
                    service: plan.name, type: .available, pid: pid, restarts: restarts,
                    durationMs: after.map { Int($0.milliseconds) })
                : ServiceEvent(service: plan.name, type: .unavailable, pid: pid, restarts: restarts, reason: reason)
        case let .restartDetected(reason, previousPid, since):
            return ServiceEvent(
                service: plan.name, type: .restartDetected, pid: pid, previousPid: previousPid, restarts: restarts,
                reason: plan.restartReason(reason), since: since)
        default:
            return nil
        }
    }

    // MARK: - Actions

    func perform(_ action: ServiceLifecycle.Action) {
        switch action {
        case let .spawn(generation):
            scope.launch { await self.spawn(generation: generation) }
        case let .watchReadiness(generation):
            watchReadiness(generation: generation)
        case .armStartTimer:
            guard let spec = plan.ready?.spec else { return }
            startTimer = arm(startTimer, after: spec.startTimeout) {
                let detail = await self.machine.lastProbeError.map { ": \($0)" } ?? ""
                return .startTimedOut(
                    "not ready after \(DurationParser.format(spec.startTimeout)) (probe \(spec.kind.display)\(detail))")
            }
        case .cancelStartTimer:
            startTimer?.cancel()
            startTimer = nil
        case .watchAliveness:
            gatherMembers()
            watchAliveness()
            startMonitors()
        case .stopProbes:
            watching?.cancelAll()
            watching = nil
            pump?.observeLines(nil)
        case let .scheduleRestart(delay):
            restartTimer = arm(restartTimer, after: delay) { .backoffElapsed }
        case .cancelRestart:
            restartTimer?.cancel()
            restartTimer = nil
        case let .signalGroup(signal):
            guard let group = liveGroup else { return }
            gatherMembers()
            ProcessTable.signalGroup(group, signal)
        case let .sendStopCommand(generation):
            guard liveGroup != nil, let command = plan.stopCommand else { return }
            scope.launch {
                let outcome = await command.send(ServiceLifecycle.stopCommandAnswerLimit)
                await self.send(.stopCommandAnswered(outcome, generation: generation))
            }
        case let .armStopGrace(grace, generation):
            stopTimer = arm(stopTimer, after: grace) { .stopGraceElapsed(generation: generation) }
        case let .armStopTimer(timeout, generation):
            stopTimer = arm(stopTimer, after: timeout) { .stopTimedOut(generation: generation) }
        case .killGroup:
            killEveryMember()
        case .record, .warn, .announceAvailability, .restartDetected:
            break  // told, not performed (`tell`)
        }
    }

    /// A timer on the timebase: cancels `previous`, and sends what `event` makes once
    /// `duration` from now has passed. The deadline is fixed now, when it is armed.
    func arm(
        _ previous: ScopedTask?, after duration: Duration,
        _ event: @escaping @Sendable () async -> ServiceLifecycle.Event
    ) -> ScopedTask {
        previous?.cancel()
        let deadline = time.deadline(after: duration)
        return scope.launch { [time] in
            guard (try? await time.sleep(until: deadline)) != nil else { return }
            await self.send(await event())
        }
    }

    func spawn(generation: Int) async {
        Trace.mark("\(plan.name) spawn begins")
        // What the last incarnation left behind goes first (Postgres: its shared memory).
        await releasing?.finished()
        // A task's first run is skipped when what it would make is already there.
        if generation == 1, let check = plan.skipCheck,
            let reason = await check(PreStartContext(service: plan.name, logFD: logFD))
        {
            await send(.skipped(reason, generation: generation))
            return
        }
        do {
            let context = PreStartContext(service: plan.name, logFD: logFD)
            for step in plan.preStart { try await step(context) }
        } catch {
            await send(.spawnFailed(describe(error)))
            return
        }
        guard let pipe = Descriptors.openPipe() else {
            await send(.spawnFailed("cannot create a pipe: \(String(cString: strerror(errno)))"))
            return
        }
        let fds = [pipe.read, pipe.write]
        // Output reaches the console only when it is mirrored there (foreground up);
        // the detached supervisor's console is its own log, not the services'.
        let pump = OutputPump(
            fd: fds[0], log: log, prefix: prefix, console: prefix == nil ? nil : console, label: plan.name)
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
        var request = SpawnRequest(
            executable: plan.executable, arguments: plan.argv,
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
        processStartedAt = time.date
        scope.launch { await self.watchExit(pid: pid, generation: generation, pump: pump) }
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
            releasing = scope.launch { await self.awaitRelease(check) }
        }
        await pump.waitForEOF(timeout: .milliseconds(200))
        Trace.mark("\(plan.name) output closed")
        Guardian.shared.unregister(group: pid)
        let uptime = machine.times.spawned.map { time.now - $0 } ?? .zero
        if liveGroup == pid { liveGroup = nil }
        let outcome = await afterCompletion(status)
        await send(.exited(outcome, uptime: uptime, generation: generation, tail: pump.lastLines(20)))
    }

    /// Runs the plan's after-completion steps when a task ended well; a step that
    /// fails turns the exit into a failure, with the reason in the service's log.
    func afterCompletion(_ status: ExitStatus) async -> ExitStatus {
        guard status.isSuccess, !plan.afterCompletion.isEmpty, plan.policy.restart != .always,
            machine.phase != .stopping
        else {
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

    /// The scope of the current incarnation's probes and monitors, made on first use.
    func watchScope() -> TaskScope {
        if let watching { return watching }
        let scope = TaskScope()
        watching = scope
        return scope
    }

    func watchReadiness(generation: Int) {
        guard let ready = plan.ready else { return }
        let probe = signalProbe
        let name = plan.name
        watchScope().launch { [time] in
            switch ready {
            case .log, .notify:
                await probe?.wait()
            case let .polling(check, spec):
                let begin = time.now
                let schedule = ProbeSchedule(interval: spec.interval)
                while !Task.isCancelled {
                    Trace.mark("\(name) ready probe")
                    let outcome = await check.check()
                    if outcome.passed { break }
                    if case let .failed(reason) = outcome {
                        Trace.mark("\(name) ready probe failed: \(reason.prefix(60))")
                        await self.send(.readyProbeFailed(reason))
                    }
                    let delay = schedule.delay(afterWaiting: time.now - begin)
                    guard (try? await time.sleep(for: delay)) != nil else { return }
                }
            }
            guard !Task.isCancelled else { return }
            await self.send(.readyPassed(generation: generation))
        }
    }

    func describe(_ error: Error) -> String {
        (error as? MusterError)?.message ?? "\(error)"
    }
}
