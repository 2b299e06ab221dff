import Foundation

/// Keyed snapshots in the plans (`snapshot: { after: migrate, key: [GLOBS] }`): the
/// task asks, before its first run, whether each keyed snapshot taken after it is
/// current (then it is restored and the task skipped); after it ran, the snapshot is
/// taken under its key and, with a cache folder, the cluster copied into the cache;
/// and a Postgres service whose cluster does not exist yet starts from the cache's.
extension StackPlanner {
    /// The key computed before the task ran, used by the snapshot taken after it (a
    /// file changed meanwhile must not name the snapshot of the files the task read).
    final class KeyHolder: @unchecked Sendable {
        private let lock = NSLock()
        private var keys: [String: SnapshotKey] = [:]
        func set(_ key: SnapshotKey, for service: String) { lock.withLock { keys[service] = key } }
        func take(for service: String) -> SnapshotKey? { lock.withLock { keys.removeValue(forKey: service) } }
    }

    struct KeyedTarget: Sendable {
        var postgres: ServiceSpec
        var spec: SnapshotSpec
        var database: String
        var bin: String
        var socketDir: String
        var port: String
        var cache: SnapshotCache?
        var cluster: String
        /// Where the cache's copy leaves the key it was seeded with (read once by the task).
        var seededMarker: String
        /// Where the project, then the machine, remember the Postgres build's identity (`PostgresBuild`).
        var buildFiles: [String]

        /// The identity of the Postgres build this service runs.
        func build() async -> String { await PostgresBuild.identity(of: bin + "/postgres", rememberedIn: buildFiles) }

        func admin() throws -> DatabaseSnapshots { try DatabaseSnapshots.admin(socketDir: socketDir, port: port) }
    }

    /// An admin connection opened on first use and kept for the passes that follow,
    /// which use it one after another (never at once), each on the blocking pool.
    final class AdminConnection: @unchecked Sendable {
        private var opened: DatabaseSnapshots?
        func open(_ target: KeyedTarget) throws -> DatabaseSnapshots {
            if let opened { return opened }
            let made = try target.admin()
            opened = made
            return made
        }
    }

    func keyedTarget(_ postgres: ServiceSpec, lookup: (String, String) -> String?) -> KeyedTarget? {
        guard let engine = postgres.engine, let spec = engine.snapshot, !spec.key.isEmpty,
            let found = PostgresEngine.locate(bin: engine.bin, environment: environment).found
        else { return nil }
        return KeyedTarget(
            postgres: postgres, spec: spec, database: spec.database ?? engine.databases.first ?? "postgres",
            bin: (found as NSString).deletingLastPathComponent,
            socketDir: PostgresEngine.socketDirectory(paths: paths, service: postgres.name),
            port: lookup(postgres.name, "port") ?? "0",
            cache: SnapshotCache.directory(environment).map(SnapshotCache.init(directory:)),
            cluster: SnapshotCache.clusterIdentity(withPassword: engine.password != nil),
            seededMarker: paths.dataDir(for: postgres.name) + ".seeded-key",
            buildFiles: [
                paths.stateDir + "/postgres-build." + postgres.name,
                PostgresBuild.machineFile(for: found, environment: environment),
            ])
    }

    /// Before the task's first run: every snapshot taken after it is keyed, and the
    /// cluster holds each one's current key; each is then restored (unless the cluster
    /// was just copied from the cache, migrated as it is) and the task is skipped.
    func skipCheck(for task: ServiceSpec, targets: [KeyedTarget], keys: KeyHolder)
        -> @Sendable (PreStartContext) async -> String?
    {
        let stack = self.stack
        let desk = self.desk
        return { context in
            Trace.mark("\(task.name) skip check begins")
            var found: [(KeyedTarget, SnapshotKey)] = []
            for target in targets {
                let build = await target.build()
                guard let key = SnapshotKey.current(for: target.postgres, in: stack, postgresBuild: build) else {
                    return nil
                }
                keys.set(key, for: target.postgres.name)
                found.append((target, key))
            }
            let current = found
            Trace.mark("\(task.name) skip check: keys computed")
            let begin = Date()
            // One admin connection per target for both passes (each new one cost 3–5 ms of a hit).
            let admins = current.map { _ in AdminConnection() }
            do {
                // Every key first (nothing changes): with one missing the task runs, no database restored.
                for ((target, key), admin) in zip(current, admins) {
                    let held = try await desk.blocking {
                        try admin.open(target).holds(target.database, name: target.spec.name, key: key.hex)
                    }
                    guard held else {
                        writeAll(
                            context.logFD,
                            "muster: no snapshot of \(target.database) for key \(key.short); running \(task.name)\n")
                        return nil
                    }
                }
                for ((target, key), admin) in zip(current, admins) {
                    let template = DatabaseSnapshots.snapshotDatabase(of: target.database, name: target.spec.name)
                    let seeded = (try? String(contentsOfFile: target.seededMarker, encoding: .utf8)) == key.hex
                    unlink(target.seededMarker)
                    // On the turns a `muster db snapshot` takes: the snapshot made current and
                    // restored, with no retake or copy of it in between.
                    let restored = try await desk.locked(target.database, DatabaseTurns.poolKey(template)) {
                        () throws -> (found: Bool, old: String?) in
                        let db = try admin.open(target)
                        guard try db.activate(target.database, name: target.spec.name, key: key.hex) else {
                            return (false, nil)  // replaced since it was looked for
                        }
                        return (true, seeded ? nil : try db.swapIn(target.database, snapshot: template).old)
                    }
                    guard restored.found else {
                        writeAll(
                            context.logFD,
                            "muster: the snapshot of \(target.database) for key \(key.short) was replaced; running \(task.name)\n"
                        )
                        return nil
                    }
                    // The pool and the drop of what was swapped out wait for no one.
                    desk.fillPool(
                        of: target.database, template: template, size: target.spec.spares, dropping: restored.old,
                        priority: .background, connect: { try target.admin().admin })
                    writeAll(
                        context.logFD,
                        String(
                            format:
                                "muster: snapshot of %@ for key %@ is current; %@ (%.0f ms); %@ not run; its %d ready copies are made in the background\n",
                            target.database, key.short, seeded ? "the cluster came from the cache" : "restored",
                            Date().timeIntervalSince(begin) * 1000, task.name, target.spec.spares))
                }
                Trace.mark("\(task.name) skip check done")
                let shown = current.map(\.1.short).joined(separator: ", ")
                return "skipped: snapshot for key \(shown) is current"
            } catch {
                Trace.mark("\(task.name) skip check done")
                writeAll(
                    context.logFD, "muster: could not look for a keyed snapshot (\(error)); running \(task.name)\n")
                return nil
            }
        }
    }

    /// After the task ran: the snapshot under its key (the one it replaces set aside),
    /// its pool, and with a cache folder a copy of the cluster in the cache.
    func keyedSnapshotStep(_ target: KeyedTarget, task: String, keys: KeyHolder) -> PreStartStep {
        let stack = self.stack
        let desk = self.desk
        let template = DatabaseSnapshots.snapshotDatabase(of: target.database, name: target.spec.name)
        return { context in
            let key: SnapshotKey
            if let known = keys.take(for: target.postgres.name) {
                key = known
            } else {
                let build = await target.build()
                guard let now = SnapshotKey.current(for: target.postgres, in: stack, postgresBuild: build) else {
                    return
                }
                key = now
            }
            let begin = Date()
            // On the turns a `muster db snapshot` takes: no copy of the snapshot replaced is in the making.
            try await desk.locked(target.database, DatabaseTurns.poolKey(template)) {
                let db = try target.admin()
                if try db.currentKey(of: target.database, name: target.spec.name) != key.hex {
                    try db.setAsideCurrent(target.database, name: target.spec.name)
                }
                _ = try db.snapshot(target.database, name: target.spec.name, key: key.hex)
            }
            writeAll(
                context.logFD,
                String(
                    format: "muster: snapshot \"%@\" of %@ taken after %@ completed, key %@ (%.0f ms)\n",
                    target.spec.name, target.database, task, key.short, Date().timeIntervalSince(begin) * 1000))
            // Into the cache before the pool is filled: the copy then has no ready copies to leave out.
            await Self.cacheStep(target, key: key, logFD: context.logFD)
            _ = try await desk.locked(DatabaseTurns.poolKey(template)) {
                try target.admin().fill(target.database, snapshot: template, size: target.spec.spares)
            }
        }
    }

    /// With a cache folder: the cluster copied into the cache for `key` (only what a
    /// hit needs: `SnapshotCache.trim`), older keys pruned. A failure is said in the
    /// task's log and changes nothing else: the stack works, the next run migrates again.
    private static func cacheStep(_ target: KeyedTarget, key: SnapshotKey, logFD: Int32) async {
        guard let cache = target.cache else { return }
        let copying = Date()
        let now = EventLog.timestamp(Date())
        let entry = SnapshotCache.Entry(
            key: key.hex, service: target.postgres.name, database: target.database,
            snapshot: target.spec.name, taken: now, used: now, cluster: target.cluster)
        do {
            try await cache.store(
                entry, bin: target.bin, socketDir: target.socketDir, port: target.port,
                credentials: try PostgresEngine.credentials(for: target.postgres), logFD: logFD)
            let name = SnapshotCache.entryName(service: entry.service, key: entry.key, cluster: entry.cluster)
            let pruned = cache.prune(
                service: entry.service, database: entry.database, snapshot: entry.snapshot, sparing: name)
            writeAll(
                logFD,
                String(
                    format: "muster: cluster cached in %@ for key %@ (%.0f ms)%@\n", cache.folder, key.short,
                    Date().timeIntervalSince(copying) * 1000,
                    pruned.isEmpty ? "" : "; older keys removed: " + pruned.joined(separator: ", ")))
        } catch {
            writeAll(logFD, "muster: \((error as? MusterError)?.message ?? "\(error)")\n")
        }
    }

    /// Before Postgres starts: a cluster that does not exist yet is copied from the
    /// cache when it holds one for the current key.
    func seedStep(_ target: KeyedTarget, dataDir: String, credentials: ServicePlan.Credentials?) -> PreStartStep? {
        guard let cache = target.cache else { return nil }
        let stack = self.stack
        let projectDataDir = paths.dataDir(for: target.postgres.name)
        return { context in
            guard !FileManager.default.fileExists(atPath: dataDir + "/global/pg_control") else { return }
            Trace.mark("\(target.postgres.name) seed: looking for a cached cluster")
            let build = await target.build()
            guard let key = SnapshotKey.current(for: target.postgres, in: stack, postgresBuild: build),
                let cluster = cache.cluster(service: target.postgres.name, key: key.hex, cluster: target.cluster)
            else {
                writeAll(context.logFD, "muster: the snapshot cache has no cluster for this key; making an empty one\n")
                return
            }
            if dataDir != projectDataDir { try PostgresDataHome.prepareLink(projectDataDir, to: dataDir) }
            try? FileManager.default.createDirectory(
                atPath: (dataDir as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // An empty folder left by an earlier attempt stands in the way of the rename.
            if (try? FileManager.default.contentsOfDirectory(atPath: dataDir))?.isEmpty == true {
                try? FileManager.default.removeItem(atPath: dataDir)
            }
            Trace.mark("\(target.postgres.name) seed: key \(key.short) found in the cache")
            let begin = Date()
            guard await cache.seed(dataDir, from: cluster, credentials: credentials, logFD: context.logFD) else {
                return
            }
            try? key.hex.write(toFile: target.seededMarker, atomically: true, encoding: .utf8)
            Trace.mark("\(target.postgres.name) seed: cluster copied")
            writeAll(
                context.logFD,
                String(
                    format: "muster: cluster copied from the snapshot cache for key %@ (%.0f ms)\n",
                    key.short, Date().timeIntervalSince(begin) * 1000))
        }
    }
}
