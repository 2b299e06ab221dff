extension ProcessSpawner {
    /// Runs a short-lived helper program (initdb, pg_basebackup) to its end: spawned in
    /// its own group, which the guardian kills if muster dies meanwhile, and reaped.
    func runToExit(_ request: SpawnRequest) async throws -> ExitStatus {
        let pid = try await spawn(request)
        Guardian.shared.register(group: pid)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        Guardian.shared.unregister(group: pid)
        return status
    }
}
