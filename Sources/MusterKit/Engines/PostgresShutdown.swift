import Foundation

/// Stopping Postgres the way `pg_ctl` does, and knowing when it has let go of its
/// data directory.
///
/// The stop signal is SIGINT (fast shutdown: sessions end, a shutdown checkpoint is
/// written). When that outlives `stop_timeout` (a slow disk syncing the checkpoint),
/// SIGQUIT asks for an immediate shutdown: the postmaster ends every child (SIGKILL
/// after 5 s of its own) and releases its shared memory; the next start runs crash
/// recovery, which is safe. SIGKILL of every process comes last, and only if the
/// immediate shutdown did not end it either: PostgreSQL's documentation warns never
/// to SIGKILL the postmaster first, since its children would then keep the shared
/// memory and the next postmaster would refuse the data directory.
enum PostgresShutdown {
    static let escalation = ServiceLifecycle.StopEscalation(
        signal: SIGQUIT, grace: .seconds(10), stopName: "fast shutdown", name: "immediate shutdown")
    /// How long a start waits for the processes of an earlier postmaster to go.
    static let previousLimit: Duration = .seconds(30)

    /// What of an earlier postmaster still holds `dataDir`: nil when nothing does.
    /// Read from `postmaster.pid`, which a clean shutdown removes and which names the
    /// SysV shared memory segment every Postgres process keeps attached until it exits.
    static func holder(of dataDir: String) -> String? {
        guard let file = PostmasterFile(dataDir: dataDir) else { return nil }
        if let entry = file.postmaster, entry.state != "Z", entry.state != "X" {
            return "the postmaster (pid \(entry.pid), \(ProcessTable.describeState(entry))) still runs on \(dataDir)"
        }
        guard let shmid = file.sharedMemoryID,
            let attached = SharedMemorySegments.attachedCount(shmid: shmid), attached > 0
        else { return nil }
        return
            "\(attached) process\(attached == 1 ? " is" : "es are") still attached to the shared memory of \(dataDir)"
    }

    /// Before a start: a postmaster that runs on the data directory is refused; the
    /// processes of one that is on its way out (its children finishing I/O after an
    /// immediate shutdown or a kill) are waited for, up to `previousLimit`, so the new
    /// postmaster does not fail on "pre-existing shared memory block is still in use".
    static func awaitPrevious(dataDir: String, logFD: Int32) async throws {
        if let entry = PostmasterFile(dataDir: dataDir)?.postmaster, entry.isAlive,
            !["D", "T", "t"].contains(entry.state)
        {
            throw MusterError(.serviceFailed, "a postgres (pid \(entry.pid)) already runs on \(dataDir); stop it first")
        }
        guard var held = holder(of: dataDir) else { return }
        writeAll(logFD, "muster: waiting for the previous Postgres to let go of \(dataDir): \(held)\n")
        let clock = ContinuousClock()
        let begin = clock.now
        var delay: Duration = .milliseconds(2)
        while clock.now - begin < previousLimit {
            try await clock.sleep(for: delay)
            delay = min(delay * 2, .milliseconds(100))
            guard let still = holder(of: dataDir) else {
                writeAll(
                    logFD, "muster: the previous Postgres let go after \(DurationParser.format(clock.now - begin))\n")
                return
            }
            held = still
        }
        throw MusterError(
            .serviceFailed,
            "the previous Postgres has not let go of \(dataDir) after \(DurationParser.format(previousLimit)): \(held); "
                + "its processes are stuck exiting (a hung disk?); wait for them, then start again")
    }
}

/// `postmaster.pid`: line 1 the postmaster's pid, line 7 the SysV shared memory key and id.
struct PostmasterFile {
    let lines: [Substring]

    init?(dataDir: String) {
        guard let text = try? String(contentsOfFile: dataDir + "/postmaster.pid", encoding: .utf8) else { return nil }
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The process under the recorded pid, when it is a postgres (a pid may have been reused).
    var postmaster: ProcessInfoEntry? {
        guard let pid = lines.first.flatMap({ Int32($0) }), let entry = ProcessTable.entry(pid),
            (ProcessTable.commandLine(pid) ?? entry.name).contains("postgres")
        else { return nil }
        return entry
    }

    var sharedMemoryID: Int32? {
        lines.count > 6 ? lines[6].split(separator: " ").last.flatMap { Int32($0) } : nil
    }
}
