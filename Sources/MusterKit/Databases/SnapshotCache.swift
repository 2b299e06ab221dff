import Foundation

/// Migrated clusters kept across projects and machines (`MUSTER_CACHE_DIR`, or `--cache
/// DIR` on `up` and `run`), one per snapshot key. After a keyed snapshot is taken (and
/// before its pool is filled), the cluster is copied into the cache while it runs, with
/// `pg_basebackup` (a consistent copy), and only what a hit needs is kept of the copy
/// (`trim`: the migrated database and its snapshot, no ready copies, clones or kept
/// databases; shut down cleanly, so it starts without recovery). A project whose
/// cluster does not exist yet (a CI job's fresh checkout, after `down --volumes`)
/// starts from that copy instead of an empty cluster, the task is skipped, and the
/// pool of ready copies is made in the background once the stack is ready. Nothing in an entry depends on the project's folder, so a
/// cache folder moved elsewhere (as a CI cache is restored) still hits.
///
/// Layout: `DIR/postgres/NAME/` (the cluster) and `DIR/postgres/NAME.json` (what it
/// is), NAME being `SERVICE-KEY-CLUSTER`: the service, the key's first 16 digits and
/// a hash of the cluster's initdb settings. Both are written under temporary names and
/// renamed into place, the description last, so a cut-short copy is never used. At
/// most `keep` keys are kept per snapshot, the least recently used go first.
public struct SnapshotCache: Sendable {
    /// The cache's own folder for Postgres clusters.
    public let folder: String
    public static let keep = 3

    public init(directory: String) {
        folder = directory + "/postgres"
    }

    /// `MUSTER_CACHE_DIR` when set (relative paths from the current folder).
    public static func directory(_ environment: [String: String]) -> String? {
        guard let value = environment["MUSTER_CACHE_DIR"], !value.isEmpty else { return nil }
        return value.hasPrefix("/") ? value : FileManager.default.currentDirectoryPath + "/" + value
    }

    /// Makes the cache folder and checks that a file can be written and renamed in it;
    /// else a usage error naming it (exit 2), before anything starts.
    public static func prepare(_ directory: String, option: String) throws {
        let cache = SnapshotCache(directory: directory)
        let fail = { (why: String) in
            MusterError(
                .usage,
                "the snapshot cache \(directory) (\(option)) is not writable: \(why); make it writable or point \(option) at another folder"
            )
        }
        // Root writes through any mode, but a folder no one may write to (chmod a-w) says
        // "not here" all the same: refused before anything is made in it.
        if geteuid() == 0, let (existing, mode) = nearestExisting(cache.folder), mode & 0o222 == 0 {
            throw fail("\(existing) is read-only (mode \(String(mode & 0o777, radix: 8)))")
        }
        do {
            try FileManager.default.createDirectory(atPath: cache.folder, withIntermediateDirectories: true)
        } catch {
            throw fail(String(cString: strerror(errno == 0 ? EACCES : errno)))
        }
        let probe = cache.folder + "/.write-check-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw fail(String(cString: strerror(errno))) }
        close(fd)
        let renamed = probe + ".done"
        defer { unlink(probe); unlink(renamed) }
        guard rename(probe, renamed) == 0 else { throw fail(String(cString: strerror(errno))) }
    }

    /// `path` or the closest folder above it that exists, with its mode.
    private static func nearestExisting(_ path: String) -> (String, mode_t)? {
        var candidate = path
        while !candidate.isEmpty {
            var info = stat()
            if stat(candidate, &info) == 0 { return (candidate, info.st_mode) }
            guard candidate != "/" else { return nil }
            candidate = (candidate as NSString).deletingLastPathComponent
        }
        return nil
    }

    /// What an entry is, in `NAME.json`.
    public struct Entry: Codable, Sendable, Equatable {
        public var key: String
        public var service: String
        public var database: String
        public var snapshot: String
        /// RFC 3339: when it was made, and when a project last started from it.
        public var taken: String
        public var used: String
        public var cluster: String
        public var sizeBytes: Int?
        /// Folders of databases Postgres never writes to (`base/OID` of `template0` and
        /// the snapshot): a hit links their files rather than copies them.
        public var shared: [String]?
        /// The entry's name (not stored).
        public var name: String?
    }

    static func entryName(service: String, key: String, cluster: String) -> String {
        "\(service)-\(key.prefix(16))-\(cluster.prefix(8))"
    }

    /// The cluster's identity besides the key: its initdb settings.
    static func clusterIdentity(withPassword: Bool) -> String {
        ProjectPaths.hash(PostgresEngine.initdbArguments(withPassword: withPassword).joined(separator: " "))
    }

    public func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.compactMap { file -> Entry? in
            let name = String(file.dropLast(5))
            guard let data = FileManager.default.contents(atPath: folder + "/" + file),
                var entry = try? ControlJSON.decode(Entry.self, from: data),
                FileManager.default.fileExists(atPath: folder + "/" + name + "/global/pg_control")
            else { return nil }
            entry.name = name
            return entry
        }.sorted { $0.used < $1.used }
    }

    /// The cluster folder for `key`, when the cache holds a complete one.
    func cluster(service: String, key: String, cluster: String) -> String? {
        let name = Self.entryName(service: service, key: key, cluster: cluster)
        guard let data = FileManager.default.contents(atPath: folder + "/" + name + ".json"),
            let entry = try? ControlJSON.decode(Entry.self, from: data), entry.key == key, entry.cluster == cluster,
            FileManager.default.fileExists(atPath: folder + "/" + name + "/global/pg_control")
        else { return nil }
        return folder + "/" + name
    }

    /// Notes that a project started from `name` (it is then pruned last).
    func noteUse(_ name: String) {
        let path = folder + "/" + name + ".json"
        guard let data = FileManager.default.contents(atPath: path),
            var entry = try? ControlJSON.decode(Entry.self, from: data)
        else { return }
        entry.used = EventLog.timestamp(Date())
        try? write(entry, name: name)
    }

    private func write(_ entry: Entry, name: String) throws {
        var stored = entry
        stored.name = nil
        let temporary = folder + "/.\(name).json.\(getpid())"
        try ControlJSON.encode(stored).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, folder + "/" + name + ".json") == 0 else {
            unlink(temporary)
            throw MusterError(.environment, "cannot write \(folder)/\(name).json: \(String(cString: strerror(errno)))")
        }
    }

    /// Copies the running cluster into the cache for `entry` with `pg_basebackup`, and
    /// leaves out of the copy what a hit does not need (`trim`).
    func store(
        _ entry: Entry, bin: String, socketDir: String, port: String, credentials: ServicePlan.Credentials?,
        logFD: Int32
    ) async throws {
        let name = Self.entryName(service: entry.service, key: entry.key, cluster: entry.cluster)
        guard let basebackup = Self.program("pg_basebackup", besides: bin) else {
            throw MusterError(.environment, "pg_basebackup is not beside \(bin)/postgres; the snapshot is not cached")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        FolderPlacement.spreadSubfolders(of: folder)
        let inCache = folder + "/.\(name).making-\(getpid())"
        // The trim starts the copy as the `postgres` user when muster is root; a cache that
        // user cannot enter (under /root, in a `mktemp -d` folder) gets the copy made and
        // trimmed where it can, and moved in once it is whole.
        let outside = try Self.stagingOutside(of: folder, name: name, credentials: credentials)
        let staging = outside ?? inCache
        for made in [inCache, staging] { try? FileManager.default.removeItem(atPath: made) }
        defer { for made in [inCache, staging] { try? FileManager.default.removeItem(atPath: made) } }
        let argv = [
            basebackup, "-D", staging, "-h", socketDir, "-p", port, "-U", PostgresEngine.superuser,
            "-X", "stream", "-c", "fast", "--no-sync", "--no-manifest",
        ]
        var request = SpawnRequest(
            executable: argv[0], arguments: argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C", "PGAPPNAME=muster"])
        request.outputFD = logFD
        let status = try await ProcessSpawner.shared.runToExit(request)
        guard status.isSuccess else {
            throw MusterError(.environment, "pg_basebackup \(status); the snapshot is not cached (its output is above)")
        }
        let shared = try await trim(
            staging, database: entry.database,
            template: DatabaseSnapshots.snapshotDatabase(of: entry.database, name: entry.snapshot), bin: bin,
            credentials: credentials, logFD: logFD)
        if staging != inCache, rename(staging, inCache) != 0 {
            // Another file system: copied, still under its temporary name.
            guard await runQuietly(["/bin/cp", "-a", staging, inCache], logFD: logFD) else {
                throw MusterError(
                    .environment,
                    "cannot copy the cached cluster from \(staging) into \(folder); the snapshot is not cached")
            }
        }
        let final = folder + "/" + name
        let old = folder + "/.\(name).old-\(getpid())"
        unlink(final + ".json")  // a description never stands beside a cluster it does not describe
        _ = rename(final, old)
        guard rename(inCache, final) == 0 else {
            throw MusterError(
                .environment, "cannot move the cached cluster into \(final): \(String(cString: strerror(errno)))")
        }
        try? FileManager.default.removeItem(atPath: old)
        var described = entry
        described.sizeBytes = TemplateCache.diskUsage(final)
        described.shared = shared
        try write(described, name: name)
    }

    /// Where muster makes a cache entry when `credentials` (the `postgres` user, muster
    /// being root) cannot enter the cache `folder`: a folder of its own beside the clusters
    /// of `PostgresDataHome`, which that user passes through. Nil: in the cache itself.
    static func stagingOutside(of folder: String, name: String, credentials: ServicePlan.Credentials?) throws
        -> String?
    {
        guard let credentials, (try? PostgresEngine.checkReachable(folder + "/" + name, by: credentials)) == nil
        else { return nil }
        let base = "/var/lib/muster/postgres-cache-staging"
        try PostgresDataHome.makeFolder(
            base, for: "to make the cache's copy in (user \(credentials.user) cannot enter \(folder))")
        FolderPlacement.spreadSubfolders(of: base)
        return base + "/.\(name).making-\(getpid())"
    }

    /// Makes `dataDir` (which must not exist) a copy of the cached `cluster`, owned by
    /// `credentials` when muster is root. The entry's `shared` folders are hard links
    /// when the cache is on the same file system (Postgres never writes to them; a
    /// drop only unlinks), else copies too. False when the copy failed (nothing is left).
    func seed(_ dataDir: String, from cluster: String, credentials: ServicePlan.Credentials?, logFD: Int32) async
        -> Bool
    {
        // A name of its own in a marked folder (FolderPlacement): its 1 800 files land away
        // from the clusters deleted last, whose inodes ext4 would walk past one by one.
        FolderPlacement.spreadSubfolders(of: (dataDir as NSString).deletingLastPathComponent)
        FolderPlacement.sweepStaging(for: dataDir, "copying")
        let staging = FolderPlacement.staging(for: dataDir, "copying")
        var copies = [["/bin/cp", "-a", "--reflink=auto", cluster, staging]]
        var links: [String] = []
        let fm = FileManager.default
        if let shared = description(of: cluster)?.shared?.filter(Self.isDatabaseFolder), !shared.isEmpty,
            mkdir(staging, 0o700) == 0, mkdir(staging + "/base", 0o700) == 0,
            let top = try? fm.contentsOfDirectory(atPath: cluster),
            let bases = try? fm.contentsOfDirectory(atPath: cluster + "/base")
        {
            let own = bases.filter { !shared.contains("base/" + $0) }.map { cluster + "/base/" + $0 }
            copies = [
                ["/bin/cp", "-a", "--reflink=auto"] + top.filter { $0 != "base" }.map { cluster + "/" + $0 } + [staging]
            ]
            // The databases in two halves, side by side: a copy is mostly the kernel
            // making files, one core each (50 → 35 ms for 48 MB in 1 800 files, measured).
            for half in Self.halves(own) where !half.isEmpty {
                copies.append(["/bin/cp", "-a", "--reflink=auto"] + half + [staging + "/base"])
            }
            links = shared.map { cluster + "/" + $0 }.filter { fm.fileExists(atPath: $0) }
        }
        let failed = { (argv: [String]) -> Bool in
            writeAll(
                logFD,
                "muster: copying the cached cluster \(cluster) failed (\(argv[0]) \(argv[1])); making an empty cluster instead\n"
            )
            try? fm.removeItem(atPath: staging)
            return false
        }
        // Linked where the file system allows it (beside the copies); copied where it does not.
        let linking = links.isEmpty ? [] : [["/bin/cp", "-al"] + links + [staging + "/base"]]
        let succeeded = await runSideBySide(linking + copies, quiet: linking.count, logFD: logFD)
        if let copy = copies.indices.first(where: { !succeeded[linking.count + $0] }) { return failed(copies[copy]) }
        if !linking.isEmpty, !succeeded[0] {
            let copy = ["/bin/cp", "-a", "--remove-destination"] + links + [staging + "/base"]
            guard await runQuietly(copy, logFD: logFD) else { return failed(copy) }
        }
        if let credentials, await !offload({ TreeOwner.give(staging, uid: credentials.uid, gid: credentials.gid) }) {
            return failed(["chown", "\(credentials.uid):\(credentials.gid)"])
        }
        chmod(staging, 0o700)
        guard rename(staging, dataDir) == 0 else {
            try? fm.removeItem(atPath: staging)
            return false
        }
        noteUse((cluster as NSString).lastPathComponent)
        return true
    }

    /// `folders` in two groups of about as many files, the largest placed first (making
    /// files is what a copy spends its time on; counting them costs one listing each).
    static func halves(_ folders: [String]) -> [[String]] {
        var groups: [[String]] = [[], []]
        var sizes = [0, 0]
        let sized = folders.map { ($0, (try? FileManager.default.contentsOfDirectory(atPath: $0).count) ?? 0) }
            .sorted { $0.1 > $1.1 }
        for (folder, size) in sized {
            let smaller = sizes[0] <= sizes[1] ? 0 : 1
            groups[smaller].append(folder)
            sizes[smaller] += size
        }
        return groups
    }

    /// `base/OID`, nothing else (an entry's description is read from a folder that may come from anywhere).
    static func isDatabaseFolder(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts[0] == "base" && !parts[1].isEmpty && parts[1].allSatisfy(\.isNumber)
    }

    private func description(of cluster: String) -> Entry? {
        FileManager.default.contents(atPath: cluster + ".json").flatMap {
            try? ControlJSON.decode(Entry.self, from: $0)
        }
    }

    /// Runs the helpers at once; whether each succeeded. The first `quiet` log nowhere.
    private func runSideBySide(_ commands: [[String]], quiet: Int, logFD: Int32) async -> [Bool] {
        await withTaskGroup(of: (Int, Bool).self) { group in
            for (index, argv) in commands.enumerated() {
                group.addTask { (index, await self.runQuietly(argv, logFD: index < quiet ? -1 : logFD)) }
            }
            var succeeded = [Bool](repeating: false, count: commands.count)
            for await (index, result) in group { succeeded[index] = result }
            return succeeded
        }
    }

    /// Runs a helper to its end; true when it succeeded. Its output goes to `logFD` (-1: nowhere).
    private func runQuietly(_ argv: [String], logFD: Int32) async -> Bool {
        var request = SpawnRequest(
            executable: argv[0], arguments: argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
        if logFD >= 0 { request.outputFD = logFD }
        let status = (try? await ProcessSpawner.shared.runToExit(request)) ?? .exited(127)
        return status.isSuccess
    }

    /// Removes the entries of one snapshot beyond `keep`, least recently used first;
    /// never `sparing`. The description goes first, so a half-removed entry is never used.
    @discardableResult
    func prune(
        service: String, database: String, snapshot: String, keep: Int = SnapshotCache.keep, sparing: String? = nil
    ) -> [String] {
        let mine = entries().filter { $0.service == service && $0.database == database && $0.snapshot == snapshot }
        var removed: [String] = []
        for entry in mine.dropLast(max(0, keep)) {
            guard let name = entry.name, name != sparing else { continue }
            unlink(folder + "/" + name + ".json")
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
            removed.append(name)
        }
        return removed
    }

    /// A client program of the Postgres build: beside `postgres` (its real folder,
    /// when `postgres` is a link), else on PATH.
    static func program(_ name: String, besides bin: String) -> String? {
        var folders = [bin]
        if let real = realpath(bin + "/postgres", nil) {
            folders.append((String(cString: real) as NSString).deletingLastPathComponent)
            free(real)
        }
        folders += (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(
            String.init)
        return folders.map { $0 + "/" + name }.first(where: ProgramLocator.isExecutableFile)
    }
}
