import Foundation

/// Spare clusters: copies of a Postgres template made ahead of time, next to it in the
/// cache, so that a cold start takes one with a `rename` (microseconds) instead of
/// copying 27 MB and a thousand files (40 ms or more, the rest of a cold start).
///
/// - A spare is `KEY.spares/spare-PID-N`, made by copying the template into
///   `KEY.spares/.making-PID-N` and renaming it, so a spare is always whole.
/// - Taking one is a `rename` into the new cluster's staging folder: atomic, so two
///   processes never take the same one. A spare is checked in full against the
///   template's manifest (its files, sizes and `pg_control`) before the rename that
///   publishes it; taking it checks what can change while it waits (`SpareCheck`: its
///   names and `pg_control`, no `stat` of each file), and a damaged one is deleted and
///   never started.
/// - Spares help only where the cache and the project are on one file system (a
///   rename cannot cross them); elsewhere none are made or taken.
/// - A supervisor makes spares after its stack is up, one at a time, at the lowest CPU
///   priority: as many as it took or copied clusters of that template, at most
///   `MUSTER_TEMPLATE_SPARES` (default 16; 0 turns spares off). One it still owes when
///   its stack stops is made once the services are stopped, before it exits. They go
///   when the template is made again, and with the cache folder.
actor TemplateSpares {
    static let shared = TemplateSpares()

    static func limit(_ environment: [String: String]) -> Int {
        guard let text = environment["MUSTER_TEMPLATE_SPARES"], let value = Int(text), value >= 0 else { return 16 }
        return min(value, 64)
    }

    static func folder(of template: String) -> String { template + ".spares" }

    /// Same file system: a spare can be renamed into `dataDir`.
    static func renameWorks(from cache: String, to dataDir: String) -> Bool {
        var a = stat(), b = stat()
        let parent = (dataDir as NSString).deletingLastPathComponent
        return stat(cache, &a) == 0 && stat(parent, &b) == 0 && a.st_dev == b.st_dev
    }

    /// Takes a spare into `staging` (which must not exist) and checks it; true when
    /// `staging` now holds a whole cluster. Blocking: run it off the cooperative pool.
    static func take(of template: String, into staging: String, logFD: Int32) -> Bool {
        let folder = folder(of: template)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return false }
        for name in names.sorted() where name.hasPrefix("spare-") {
            guard rename(folder + "/" + name, staging) == 0 else { continue }  // taken by another process meanwhile
            if SpareCheck.passes(staging, manifestOf: template) { return true }
            writeAll(
                logFD, "muster: a spare copy of the Postgres template (\(folder)/\(name)) was damaged; deleted it\n")
            try? FileManager.default.removeItem(atPath: staging)
        }
        return false
    }

    /// Ready spares, and folders left half made by a process that is gone (deleted).
    static func count(of template: String) -> Int {
        let folder = folder(of: template)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        var ready = 0
        for name in names {
            if name.hasPrefix("spare-") { ready += 1; continue }
            if name.hasPrefix(".making-"), let pid = Int32(name.dropFirst(8).prefix { $0 != "-" }),
                pid != getpid(), !ProcessTable.isAlive(pid)
            {
                try? FileManager.default.removeItem(atPath: folder + "/" + name)
            }
        }
        return ready
    }

    private struct Want {
        var template: String
        var lock: String
        var count: Int
        var logFD: Int32
        /// The whole cache's size limit (`TemplateCache`): no spare past it.
        var cacheLimit: Int
    }

    private var wants: [String: Want] = [:]
    private var stackUp = false
    /// A detached supervisor's `up -d` waits for its report: nothing begins before it is sent.
    private var awaitingReport = false
    /// Background work for after the start (the template cache's pruning walk).
    private var afterStart: [@Sendable () -> Void] = []
    private var stopped = false
    private var worker: Task<Void, Never>?
    private var making = 0

    /// One more cluster of `template` was made here: keep one more spare of it, up to `limit`.
    func used(_ template: String, lock: String, limit: Int, logFD: Int32, cacheLimit: Int = TemplateCache.defaultLimit)
    {
        guard limit > 0 else { return }
        var want =
            wants[template] ?? Want(template: template, lock: lock, count: 0, logFD: logFD, cacheLimit: cacheLimit)
        want.count = min(want.count + 1, limit)
        wants[template] = want
        startIfReady()
    }

    /// The stack is up: the start-up burst is over, spares may be made.
    func stackStarted() {
        stackUp = true
        startIfReady()
    }

    /// A detached supervisor: spares and the cache's pruning wait until `reported`, so
    /// that none of it runs beside the report that ends `up -d`.
    func awaitReport() {
        awaitingReport = true
    }

    /// The detached supervisor told `up -d` the outcome.
    func reported() {
        awaitingReport = false
        startIfReady()
    }

    /// Runs `work` at the lowest priority once the stack is up (and reported), not
    /// beside its start.
    func whenStarted(_ work: @escaping @Sendable () -> Void) {
        afterStart.append(work)
        startIfReady()
    }

    /// Shutdown begins: no new spare is begun while the services stop; a copy under
    /// way is let finish (`finish` waits for it).
    func hold() {
        stopped = true
    }

    /// The services are stopped: the copy under way ends, and a spare this stack still
    /// owes (it took or copied a cluster of a template whose folder now holds fewer
    /// spares than it made) is made now, one per template at most. A stack brought
    /// down soon after `up` thus leaves a spare behind, and the next cold start (a new
    /// project, `down --volumes && up -d`) takes it by rename instead of copying the
    /// template. Made before the supervisor exits: nothing of it outlives the stack,
    /// and no copy runs beside the next start.
    func finish() async {
        await worker?.value
        let owed = wants.values.filter { Self.count(of: $0.template) < $0.count }
        wants = [:]
        for want in owed {
            let fits = await offload { TemplateCache.roomForOneMore(of: want.template, limit: want.cacheLimit) }
            if fits { _ = await makeOne(want, atShutdown: true) }
        }
    }

    private var copying: pid_t?

    /// A copy begun after `hold` by the worker (not by `finish`) is ended at once.
    private func copyStarted(_ pid: pid_t, atShutdown: Bool) {
        copying = pid
        if stopped, !atShutdown { kill(pid, SIGKILL) }
    }

    private func startIfReady() {
        guard stackUp, !awaitingReport else { return }
        for work in afterStart { Task.detached(priority: .background) { work() } }
        afterStart = []
        guard !stopped, worker == nil, !wants.isEmpty else { return }
        worker = Task { await self.work() }
    }

    private func work() async {
        while !stopped, let want = wants.values.first(where: { Self.count(of: $0.template) < $0.count }) {
            // The cache stays under its limit: older keys make room first, else no more spares.
            let fits = await offload { TemplateCache.roomForOneMore(of: want.template, limit: want.cacheLimit) }
            guard fits else { wants[want.template] = nil; continue }
            // A copy ended by the stop (`hold` came while it began) is still owed: `finish`
            // makes it. Only a real failure drops the want.
            if await !makeOne(want), !stopped { wants[want.template] = nil }
        }
        worker = nil
        if !stopped, wants.values.contains(where: { Self.count(of: $0.template) < $0.count }) { startIfReady() }
    }

    /// One spare, under the template's shared lock (the template is not made again
    /// meanwhile). False when the template is not there or not whole, or copying failed.
    private func makeOne(_ want: Want, atShutdown: Bool = false) async -> Bool {
        let lock = open(want.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return false }
        defer { close(lock) }
        await PostgresTemplate.lock(lock, LOCK_SH)
        defer { flock(lock, LOCK_UN) }
        guard await offload({ TemplateManifest.matches(want.template) }) else { return false }
        let folder = Self.folder(of: want.template)
        guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil
        else {
            return false
        }
        chmod(folder, 0o700)
        FolderPlacement.spreadSubfolders(of: folder)  // each spare in a block group of its own
        making += 1
        let name = "\(getpid())-\(making)-\(UInt32.random(in: 0...UInt32.max))"
        let staging = folder + "/.making-" + name
        let copied =
            (try? await CopyTree.copy(
                want.template, to: staging, logFD: want.logFD,
                spare: { await self.copyStarted($0, atShutdown: atShutdown) })) ?? false
        copying = nil
        // Checked in full here, off the critical path: a published spare is whole, and
        // taking it checks only what can change afterwards (`SpareCheck`).
        let whole = copied ? await offload { TemplateManifest.matches(staging, manifestOf: want.template) } : false
        guard whole, rename(staging, folder + "/spare-" + name) == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            return false
        }
        return true
    }
}
