import Foundation

/// A runner's watch over a running incarnation: the restart monitors (identity
/// checks per engine), the alive probe with its available/unavailable transitions,
/// and what they find, turned into events.
extension ServiceRunner {
    /// Fresh monitors for this incarnation, each on its own interval.
    func startMonitors() {
        monitoring.forEach { $0.cancel() }
        guard let leader = liveGroup else { return }
        monitoring = plan.monitors.map { factory in
            let monitor = factory()
            return Task { [clock] in
                defer { monitor.close() }
                // The first look comes at once: it is the baseline later looks compare with.
                var lastLook: Date?
                while !Task.isCancelled {
                    let look = Date()
                    let findings = await monitor.sample(leader: leader)
                    guard !Task.isCancelled else { return }
                    for finding in findings {
                        // A monitor that cannot say when it last saw the old identity: its previous look did.
                        if case .restartDetected(let reason, let previousPid, nil) = finding, let lastLook {
                            await self.note(.restartDetected(reason: reason, previousPid: previousPid, since: lastLook))
                        } else {
                            self.note(finding)
                        }
                    }
                    lastLook = look
                    guard (try? await clock.sleep(for: monitor.interval)) != nil else { return }
                }
            }
        }
    }

    func note(_ finding: MonitorFinding) {
        guard machine.phase == .ready else { return }
        switch finding {
        case let .restartDetected(reason, previousPid, since):
            detected += 1
            outbox.yield((snapshot, ServiceEvent(service: plan.name, type: .restartDetected, pid: machine.pid,
                                                 previousPid: previousPid, restarts: machine.restarts,
                                                 reason: plan.restartReason(reason), since: since)))
        case let .warning(text):
            outbox.yield((snapshot, ServiceEvent(service: plan.name, type: .warning, pid: machine.pid,
                                                 restarts: machine.restarts, reason: text)))
        }
    }

    func noteProbeError(_ reason: String) { lastProbeError = reason }

    func watchAliveness(generation: Int) {
        aliveness?.cancel()
        aliveIdentity = IdentityTracker()
        guard case let .polling(check, spec)? = plan.alive else { return }
        aliveness = Task { [clock] in
            var failures = 0
            while !Task.isCancelled {
                guard (try? await clock.sleep(for: spec.interval)) != nil else { return }
                let sent = Date()
                let outcome = await check.check()
                guard !Task.isCancelled else { return }
                if case let .passed(identity?) = outcome, let previous = self.observeAliveIdentity(identity, at: sent) {
                    await self.note(.restartDetected(reason: "its alive probe reports a new identity (\(previous) → \(identity))",
                                                     previousPid: nil, since: self.aliveIdentitySince()))
                }
                failures = outcome.passed ? 0 : failures + 1
                await self.noteAliveness(passed: outcome.passed, failures: failures, threshold: spec.failures, outcome: outcome)
            }
        }
    }

    /// `sent`: when the look was sent; the identity it found held at least until then.
    func observeAliveIdentity(_ identity: String, at sent: Date) -> String? {
        aliveIdentity.observe(identity, at: sent)
    }

    func aliveIdentitySince() -> Date? { aliveIdentity.previousSeenAt }

    func noteAliveness(passed: Bool, failures: Int, threshold: Int, outcome: ProbeOutcome) async {
        var reason: String?
        if !passed {
            reason = "alive probe failed \(failures) times"
            if case let .failed(why) = outcome { reason! += ": \(why)" }
        }
        await send(.aliveChecked(passed: passed, failures: failures, threshold: threshold, reason: reason))
    }

    /// The lifecycle decided the service became unavailable or available again.
    func announce(available: Bool, reason: String?) {
        if available {
            let duration = unavailableSince.map { Int((clock.now - $0).milliseconds) }
            outbox.yield((snapshot, ServiceEvent(service: plan.name, type: .available, pid: machine.pid,
                                                  restarts: machine.restarts, durationMs: duration)))
        } else {
            unavailableSince = clock.now
            outbox.yield((snapshot, ServiceEvent(service: plan.name, type: .unavailable, pid: machine.pid,
                                                  restarts: machine.restarts, reason: reason)))
        }
    }
}
