import Foundation

/// Acting on single services of a running stack (`muster stop|start|restart`).
///
/// The rule, so that no service is left pointing at nothing:
/// - `stop X` stops X and, first, every running service that depends on X.
/// - `start X` starts X and whatever X depends on that is not running.
/// - `restart X` stops the running services that depend on X, restarts X, waits
///   until X is ready, then starts those dependents again in dependency order.
///   Tasks that already completed are not run again. `--no-deps` restarts X alone.
extension Supervisor {
    /// Every service that depends on one of `names`, directly or not.
    func dependents(ofAny names: [String]) -> Set<String> {
        var result = Set<String>()
        var queue = names
        while let name = queue.popLast() {
            for dependent in graph.dependents(of: name) where !result.contains(dependent) {
                result.insert(dependent)
                queue.append(dependent)
            }
        }
        return result
    }

    /// A service that runs once to completion (`task: true`, depended on as `completed`, or done).
    func isTask(_ name: String) -> Bool {
        if snapshots[name]?.phase == .completed { return true }
        return plans.contains { $0.name == name && $0.policy.isTask }
    }

    /// Throws a usage error for names that are not services of this stack.
    func checkNames(_ names: [String]) throws {
        let known = plans.map(\.name)
        for name in names where !known.contains(name) {
            throw MusterError(
                .usage,
                "no service \"\(name)\" in this stack\(Suggestion.hint(for: name, in: known)); services: \(known.joined(separator: ", "))"
            )
        }
    }

    /// Stops the named services after every running service that depends on them.
    /// Returns the services that were stopped, in the order they went down.
    @discardableResult
    public func stop(_ names: [String]) async throws -> [String] {
        try checkNames(names)
        prepareRunners()
        let set = Set(names).union(dependents(ofAny: names))
        wanted.subtract(set)
        let up = set.filter { !(snapshots[$0]?.phase.isDown ?? true) }
        await stopInOrder(set)
        // The answer is read from the runners, not from their queued updates: a `ps` right
        // after `stop` must not show a stopped service as stopping.
        for name in set { await refresh(name) }
        var left: [String] = []
        for name in graph.startOrder(of: set) { left += await runners[name]?.leftBehind() ?? [] }
        if let first = left.first {
            throw MusterError(
                .serviceFailed, "not every process stopped: \(first)", details: left.dropFirst().map { "  " + $0 })
        }
        return graph.startOrder(of: up).reversed()
    }

    /// Stops `set`, each service after its dependents within the set.
    func stopInOrder(_ set: Set<String>) async {
        var tasks: [String: Task<Void, Never>] = [:]
        for name in graph.startOrder(of: set).reversed() {
            let dependents = graph.dependents(of: name).compactMap { tasks[$0] }
            let runner = runners[name]
            tasks[name] = Task {
                for dependent in dependents { await dependent.value }
                await runner?.stop()
            }
        }
        for task in tasks.values { await task.value }
    }

    /// Restarts the named services (see the rule above) and returns once they and
    /// the dependents that were restarted with them are ready again. Returns the
    /// dependents that were restarted.
    @discardableResult
    public func restart(_ names: [String], withDependents: Bool = true, deadline: Timebase.Moment? = nil) async throws
        -> [String]
    {
        try checkNames(names)
        for name in names where isTask(name) {
            throw MusterError(
                .usage,
                "cannot restart \(name): it is a task, which runs once per up; restart what depends on it, or run muster start \(name) to run it again"
            )
        }
        prepareRunners()
        let dependents: Set<String> =
            withDependents
            ? dependents(ofAny: names).subtracting(names).filter { !(snapshots[$0]?.phase.isDown ?? true) }
            : []
        if !dependents.isEmpty { await stopInOrder(dependents) }
        // Running ones restart in place; ones that are down simply start (below).
        let running = names.filter { !(snapshots[$0]?.phase.isDown ?? true) }
        for name in graph.startOrder(of: Set(running)) {
            wanted.insert(name)
            blocked[name] = nil
            await runners[name]?.send(.restart)
            await refresh(name)
        }
        if let failure = await waitForOutcome(of: Set(running), deadline: deadline) { throw failure }
        let rest = names.filter { !running.contains($0) } + dependents
        if !rest.isEmpty {
            try await start(rest, deadline: deadline)
        }
        return graph.startOrder(of: dependents)
    }
}
