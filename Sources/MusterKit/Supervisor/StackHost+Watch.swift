import Foundation

/// The development loop on a running stack: `watch:` rules act through the same
/// one-operation-at-a-time gate as `muster restart`, so a change and a command never
/// interleave.
extension StackHost {
    /// Starts watching the files the selected services' `watch:` rules name (nothing
    /// when none has rules). `simulatedLimit` caps the kernel watches, for tests of the
    /// polling fallback (`MUSTER_WATCH_LIMIT`). Returns the watcher, or nil.
    @discardableResult
    public func startWatching(simulatedLimit: Int? = nil, sourceFiles: Bool = false) async -> StackWatch? {
        let stack = session.stack
        let plans = Dictionary(uniqueKeysWithValues: session.supervisor.plans.map { ($0.name, $0) })
        let targets: [StackWatch.Target] = stack.services.compactMap { service in
            guard session.selected.contains(service.name), let plan = plans[service.name] else { return nil }
            var rules = service.watch
            // `up --watch`: a service without rules of its own restarts (or re-runs) on its source files.
            if sourceFiles, rules.isEmpty, service.engine == nil {
                rules = GlobMatcher.sourceRules(workingDir: plan.workingDir, isTask: stack.isTask(service))
            }
            guard !rules.isEmpty else { return nil }
            return StackWatch.Target(
                service: service.name, rules: rules, workingDir: plan.workingDir, environment: plan.environment)
        }
        guard !targets.isEmpty else { return nil }
        let supervisor = session.supervisor
        // Said once (the watch limit): a warning of the first watched service, in `events` and `watch`.
        let first = targets[0].service
        let onMessage: @Sendable (String) -> Void = { message in
            Task { await supervisor.note(ServiceEvent(service: first, type: .warning, reason: message)) }
        }
        let watch = StackWatch(
            targets: targets, projectDirectory: stack.directory, debounce: stack.watch.debounce,
            simulatedLimit: simulatedLimit, onMessage: onMessage
        ) { [weak self] service, action, reason in
            guard let self, !self.closing, await supervisor.isWanted(service) else { return }
            // The build runs outside the gate: a long one holds up no other command, and
            // `down` kills it (`killBuilds`).
            if case let .exec(command) = action, let target = targets.first(where: { $0.service == service }) {
                Trace.mark("watch: build \(service)")
                if let failure = await self.build(command, for: target) {
                    guard !self.closing else { return }
                    // The output's last lines go in the reason: a warning carries no log tail.
                    let said = failure.output.suffix(3).map { Secrets.mask($0) }.joined(separator: " ⏎ ")
                    let event = ServiceEvent(
                        service: service, type: .warning,
                        reason: "build step failed, the running process is kept (\(reason)): \(failure.headline)"
                            + (said.isEmpty ? "" : " — last lines: " + said), logTail: failure.output)
                    await supervisor.note(event)
                    return
                }
            }
            await self.runExclusively {
                guard !self.closing, await supervisor.isWanted(service) else { return }
                Trace.mark("watch: \(action.name) \(service)")
                defer { Trace.mark("watch: \(action.name) \(service) done") }
                do {
                    switch action {
                    case .restart, .exec: _ = try await supervisor.restart([service], because: reason)
                    case .rerun: _ = try await supervisor.rerun(service, because: reason)
                    }
                } catch {
                    // The lifecycle has recorded why (an exit, a failed start); nothing more to tell.
                }
            }
        }
        watch.start()
        setWatch(watch)
        await supervisor.markWatched(targets.map(\.service))
        return watch
    }

    /// Runs a `watch:` rule's build step in the service's folder with its environment;
    /// nil when it exited 0, else what it said.
    func build(_ command: CommandSpec, for target: StackWatch.Target) async -> (headline: String, output: [String])? {
        let outputs = session.outputs
        let argv = command.argv { service, output in outputs[service]?[output] }
        guard let program = argv.first,
            let executable = ProgramLocator.find(
                program, workingDir: target.workingDir,
                path: target.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        else {
            return ("program \"\(argv.first ?? "")\" not found", [])
        }
        let logPath = paths.logsDir + "/\(target.service).build.log"
        let fd = POSIX.open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return ("cannot write \(logPath)", []) }
        var request = SpawnRequest(
            executable: executable, arguments: argv,
            environment: target.environment.map { "\($0.key)=\($0.value)" }, workingDirectory: target.workingDir)
        request.outputFD = fd
        let status: ExitStatus
        do {
            let pid = try await ProcessSpawner.shared.spawn(request)
            Guardian.shared.register(group: pid)
            noteBuild(pid, running: true)
            status = await ProcessReaper.shared.exitStatus(of: pid)
            ProcessTable.signalGroup(pid, SIGKILL)
            noteBuild(pid, running: false)
            Guardian.shared.unregister(group: pid)
            ProcessReaper.shared.forget(pid)
        } catch {
            POSIX.close(fd)
            return ("\(command.display) did not start: \(error)", [])
        }
        POSIX.close(fd)
        if status.isSuccess { return nil }
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
            !$0.isEmpty
        }
        return ("\(command.display) \(status)", Array(lines.suffix(20)))
    }
}
