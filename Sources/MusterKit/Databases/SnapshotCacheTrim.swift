import Foundation

/// What a cache entry holds: only what a project started from it needs before it is
/// ready, so the copy a cache hit waits for is small. `pg_basebackup` copies the whole
/// running cluster; the copy is then started once on its own (a private socket, no TCP)
/// and everything a hit does not need is dropped: the ready copies of every pool,
/// per-worker clones, kept databases, snapshots set aside under other keys or of other
/// names, a reset's source and databases waiting to be dropped. What stays is the
/// cluster's own databases, the user's databases and the entry's snapshot. Its shutdown
/// checkpoint leaves a cluster that starts without recovery and one or two WAL files.
/// The pool of ready copies is made again in the background once the stack is ready.
extension SnapshotCache {
    /// Why a database is not part of an entry for `database`'s snapshot `template`
    /// (nil: it stays). `note` is its muster comment, if it has one.
    static func leftOut(_ name: String, note: String?, database: String, template: String) -> String? {
        if name == database || name == template || ["postgres", "template0", "template1"].contains(name) {
            return nil
        }
        if name.hasPrefix("muster_") { return "muster's own" }
        guard let note, let data = note.data(using: .utf8),
            let fields = try? JSONDecoder().decode(DatabaseSnapshots.Note.self, from: data)
        else { return nil }
        return fields.muster  // a clone, a kept database, a spare
    }

    /// Starts the copy in `staging` (a `pg_basebackup` of the running cluster), drops
    /// what `leftOut` names, and shuts it down cleanly. Returns the folders of the
    /// databases no one can connect to (`template0`, the snapshot), which Postgres
    /// never writes to: a hit links them rather than copies them (`seed`). Throws when
    /// any step fails (the caller then stores nothing).
    func trim(
        _ staging: String, database: String, template: String, bin: String,
        credentials: ServicePlan.Credentials?, logFD: Int32
    ) async throws -> [String] {
        var pattern = "/tmp/muster-cache-XXXXXX".utf8CString
        let socketDir: String = try pattern.withUnsafeMutableBufferPointer { buffer in
            guard let made = mkdtemp(buffer.baseAddress!) else {
                throw MusterError(
                    .environment, "cannot make a socket folder in /tmp: \(String(cString: strerror(errno)))")
            }
            return String(cString: made)
        }
        defer { try? FileManager.default.removeItem(atPath: socketDir) }
        if let credentials {
            chown(socketDir, credentials.uid, credentials.gid)
            guard await offload({ TreeOwner.give(staging, uid: credentials.uid, gid: credentials.gid) }) else {
                throw MusterError(
                    .environment,
                    "cannot give the cache's copy \(staging) to \(credentials.user); the snapshot is not cached")
            }
        }
        let argv = [
            bin + "/postgres", "-D", staging, "-p", "5432", "-c", "listen_addresses=",
            "-c", "unix_socket_directories=\(socketDir)", "-c", "fsync=off", "-c", "full_page_writes=off",
            // The shutdown checkpoint then keeps no recycled WAL files beyond two.
            "-c", "min_wal_size=32MB", "-c", "max_wal_size=64MB", "-c", "max_connections=20",
            "-c", "logging_collector=off", "-c", "log_min_messages=warning",
        ]
        var request = SpawnRequest(
            executable: argv[0], arguments: argv,
            environment: ["PATH=/usr/bin:/bin", "LC_ALL=C", "PGDATA=\(staging)"], workingDirectory: staging)
        request.outputFD = logFD
        if let credentials { request.credentials = (credentials.uid, credentials.gid) }
        let pid = try await ProcessSpawner.shared.spawn(request)
        Guardian.shared.register(group: pid)
        defer {
            ProcessReaper.shared.forget(pid)
            Guardian.shared.unregister(group: pid)
        }
        let dropped = await offload { () -> Result<(dropped: [String], shared: [String]), Error> in
            Result { try Self.dropLeftOut(socketDir: socketDir, server: pid, database: database, template: template) }
        }
        kill(pid, SIGINT)  // a fast shutdown: its checkpoint makes the copy start without recovery
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        let (names, shared) = try dropped.get()
        guard status.isSuccess else {
            throw MusterError(.environment, "the cache's copy did not shut down cleanly (postgres \(status))")
        }
        for leftover in ["backup_label.old", "postmaster.opts", "backup_manifest"] {
            unlink(staging + "/" + leftover)
        }
        try await trimWAL(staging + "/pg_wal", logFD: logFD)
        if !names.isEmpty {
            writeAll(logFD, "muster: left out of the cache: \(names.joined(separator: ", "))\n")
        }
        return shared
    }

    /// After a clean shutdown only the WAL file holding the last checkpoint is read (the
    /// lowest-numbered one: the checkpoint removed those before it); the files after it
    /// are recycled ones Postgres makes again when it needs them. The one kept is made
    /// sparse: mostly zeros not yet written, they then take no room in the entry and no
    /// time in a hit's copy (`cp -a` keeps holes).
    private func trimWAL(_ folder: String, logFD: Int32) async throws {
        let isSegment = { (name: String) in name.count == 24 && name.allSatisfy(\.isHexDigit) }
        let segments = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter(isSegment).sorted()
        guard let first = segments.first else { return }
        for later in segments.dropFirst() { unlink(folder + "/" + later) }
        let sparse = folder + "/." + first + ".sparse"
        let status = try await runHelper(
            ["/bin/cp", "-p", "--sparse=always", folder + "/" + first, sparse], logFD: logFD)
        guard status.isSuccess, rename(sparse, folder + "/" + first) == 0 else {
            unlink(sparse)  // the file stays whole: correct, only larger
            return
        }
    }

    private func runHelper(_ argv: [String], logFD: Int32) async throws -> ExitStatus {
        var request = SpawnRequest(
            executable: argv[0], arguments: argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
        request.outputFD = logFD
        return try await ProcessSpawner.shared.runToExit(request)
    }

    /// Connects to the copy once it accepts connections (up to 120 s: it replays the WAL
    /// written during the copy first) and drops what an entry leaves out; their names,
    /// and the folders of the databases no one can connect to.
    private static func dropLeftOut(socketDir: String, server: pid_t, database: String, template: String) throws
        -> (dropped: [String], shared: [String])
    {
        let conninfo =
            "host=\(PostgresConnection.conninfoValue(socketDir)) port=5432 user=\(PostgresEngine.superuser) dbname=postgres connect_timeout=5 application_name=muster"
        let deadline = Date().addingTimeInterval(120)
        var admin: PostgresConnection?
        while admin == nil {
            do {
                admin = try PostgresConnection(conninfo)
            } catch {
                guard kill(server, 0) == 0, Date() < deadline else {
                    throw MusterError(.environment, "the cache's copy did not start (\(error))")
                }
                usleep(20_000)
            }
        }
        guard let admin else { return ([], []) }
        admin.statementTimeout = PostgresConnection.provisioningTimeout
        let rows = try admin.query("SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database")
        var dropped: [String] = []
        for row in rows {
            guard row.count == 2, let name = row[0],
                leftOut(name, note: row[1], database: database, template: template) != nil
            else { continue }
            try admin.query("ALTER DATABASE \(admin.identifier(name)) WITH IS_TEMPLATE false")
            try admin.query("DROP DATABASE \(admin.identifier(name)) WITH (FORCE)")
            dropped.append(name)
        }
        let shared = try admin.query("SELECT oid FROM pg_database WHERE NOT datallowconn ORDER BY oid")
            .compactMap { $0.first ?? nil }.map { "base/" + $0 }
        return (dropped.sorted(), shared)
    }
}
