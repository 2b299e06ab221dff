import Foundation

/// A runner's watch over a running incarnation: the restart monitors (identity
/// checks per engine), the alive probe with its available/unavailable transitions,
/// and what they find, turned into events.
extension ServiceRunner {
    /// Fresh monitors for this incarnation, each on its own interval.
    func startMonitors() {
        guard let leader = liveGroup else { return }
        for factory in plan.monitors {
            let monitor = factory()
            watchScope().launch { [time] in
                defer { monitor.close() }
                // The first look comes at once: it is the baseline later looks compare with.
                var lastLook: Date?
                while !Task.isCancelled {
                    let look = time.date
                    let findings = await monitor.sample(leader: leader, at: look)
                    guard !Task.isCancelled else { return }
                    for finding in findings {
                        // A monitor that cannot say when it last saw the old identity: its previous look did.
                        if case .restartDetected(let reason, let previousPid, nil) = finding, let lastLook {
                            await self.send(
                                .monitorFound(
                                    .restartDetected(reason: reason, previousPid: previousPid, since: lastLook)))
                        } else {
                            await self.send(.monitorFound(finding))
                        }
                    }
                    lastLook = look
                    guard (try? await time.sleep(for: monitor.interval)) != nil else { return }
                }
            }
        }
    }

    /// The alive probe of this incarnation: a look every interval, each handed to the
    /// lifecycle with when it was sent (the identity it finds held at least until then).
    func watchAliveness() {
        guard case let .polling(check, spec)? = plan.alive else { return }
        watchScope().launch { [time] in
            while !Task.isCancelled {
                guard (try? await time.sleep(for: spec.interval)) != nil else { return }
                let sent = time.date
                let outcome = await check.check()
                guard !Task.isCancelled else { return }
                await self.send(.aliveLooked(outcome, sentAt: sent))
            }
        }
    }
}
