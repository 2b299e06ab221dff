import Foundation

/// A fresh Postgres cluster without waiting for `initdb`. `initdb` is most of a cold
/// start (0.7 to 1.4 s here), while copying a freshly made cluster takes tens of
/// milliseconds. So muster keeps one pristine cluster per Postgres build and initdb
/// settings in a per-user cache, made the first time it is needed (under a lock, in a
/// staging folder renamed into place), and makes each new cluster by copying it.
///
/// What differs per cluster is applied as initdb would: the authentication method is
/// part of the template's key, and the role, its password and the databases are made
/// by the ready probe, as for a cluster from initdb. Clusters copied from one template
/// share their system identifier (a random number initdb picks, used by physical
/// replication to tell clusters apart), which nothing in development or tests uses.
///
/// A template is checked before every use against the list of files and sizes taken
/// when it was made, and the checksum of its `pg_control`; a damaged or outdated one
/// is made again, never copied. `MUSTER_NO_TEMPLATE=1`, or `template: false` on the
/// service, runs initdb for every cluster as before.
struct PostgresTemplate {
    let bin: String
    let initdbArguments: [String]
    let credentials: ServicePlan.Credentials?

    /// Per user: `~/.cache/muster/postgres-templates` (or `$XDG_CACHE_HOME`); as root,
    /// where the `postgres` user owns the templates: `/var/lib/muster/postgres-templates`.
    /// `MUSTER_TEMPLATE_DIR` overrides it (tests use their own).
    static func cacheDirectory(credentials: ServicePlan.Credentials?, environment: [String: String]) -> String {
        cacheDirectory(asRoot: credentials != nil, environment: environment)
    }

    /// The same, for a caller that knows only whether muster runs as root (Postgres then
    /// runs as the `postgres` user).
    static func cacheDirectory(asRoot: Bool, environment: [String: String]) -> String {
        if let explicit = environment["MUSTER_TEMPLATE_DIR"], explicit.hasPrefix("/") { return explicit }
        if asRoot { return "/var/lib/muster/postgres-templates" }
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/muster/postgres-templates" }
        let home = environment["HOME"] ?? getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/tmp"
        return home + "/.cache/muster/postgres-templates"
    }

    /// Whether clusters come from a template: off with `MUSTER_NO_TEMPLATE=1` or `template: false`.
    static func enabled(engine: EngineOptions, environment: [String: String]) -> Bool {
        engine.template && !["1", "true", "yes"].contains(environment["MUSTER_NO_TEMPLATE"]?.lowercased() ?? "")
    }

    /// The key: the server build (its path, size and modification time, so an upgrade
    /// makes a new template) and the initdb arguments.
    var key: String {
        var info = stat()
        _ = stat(bin + "/postgres", &info)
        let build = "\(bin)|\(info.st_size)|\(info.st_mtim.tv_sec)"
        return ProjectPaths.hash(build + "|" + initdbArguments.joined(separator: " "))
    }

    /// Makes `dataDir` (which must not exist) as a copy of the template, making or
    /// remaking the template first when needed. Returns false when the template could
    /// not be made or copied (the caller then runs initdb itself).
    func copy(to dataDir: String, cache: String, environment: [String: String], logFD: Int32) async throws -> Bool {
        let template = cache + "/" + key
        try prepareCache(cache)
        let lockPath = template + ".lock"
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return false }
        defer { close(lock) }  // closing the only descriptor releases the flock, on every way out
        // Copies share the lock and run side by side (13 clusters of one stack at once);
        // only making the template takes it alone. Waits poll, so no thread blocks on it.
        await Self.lock(lock, LOCK_SH)
        Trace.mark("template: locked")
        // Spares only where a rename reaches the project; each cluster made asks for one more.
        let spares = TemplateSpares.renameWorks(from: cache, to: dataDir) ? TemplateSpares.limit(environment) : 0
        if spares > 0 {
            // A spare made ahead of time: a rename, then a check of what can change in it (SpareCheck).
            let taken = await offload {
                Result { try CopyTree.install(dataDir) { TemplateSpares.take(of: template, into: $0, logFD: logFD) } }
            }
            if try taken.get() {
                Trace.mark("template: a spare taken")
                await Self.noteUse(template, cache: cache, environment: environment)
                await TemplateSpares.shared.used(
                    template, lock: lockPath, limit: spares, logFD: logFD,
                    cacheLimit: TemplateCache.limit(environment))
                return true
            }
        }
        // About a thousand lstat calls: off the pool the supervisor's actors run on.
        if await !offload({ TemplateManifest.matches(template) }) {
            flock(lock, LOCK_UN)
            await Self.lock(lock, LOCK_EX)
            if await !offload({ TemplateManifest.matches(template) }) {  // another muster may have made it meanwhile
                if FileManager.default.fileExists(atPath: template) {
                    writeAll(
                        logFD, "muster: the Postgres template \(template) is damaged or outdated; making it again\n")
                    try? FileManager.default.removeItem(atPath: template)
                }
                try? FileManager.default.removeItem(atPath: TemplateSpares.folder(of: template))
                try await make(template, environment: environment, logFD: logFD)
            }
            await Self.lock(lock, LOCK_SH)  // converts the exclusive lock: copies may start
        }
        // As root, cp -a keeps the template's owner (the postgres user) on the copy.
        Trace.mark("template: no spare; copying it")
        guard try await CopyTree.copy(template, to: dataDir, logFD: logFD) else { return false }
        Trace.mark("template: copied")
        await Self.noteUse(template, cache: cache, environment: environment)
        await TemplateSpares.shared.used(
            template, lock: lockPath, limit: spares, logFD: logFD,  // nothing when 0
            cacheLimit: TemplateCache.limit(environment))
        return true
    }

    /// This key was just used; older keys go, least recently used first, while the
    /// cache is over its limit (at the lowest priority once the stack is up: weighing
    /// the cache walks every file of every spare, 13 000 of them in a cache of 322 MB).
    static func noteUse(_ template: String, cache: String, environment: [String: String]) async {
        TemplateCache.touch(template)
        let limit = TemplateCache.limit(environment)
        let key = (template as NSString).lastPathComponent
        await TemplateSpares.shared.whenStarted { TemplateCache.prune(cache, limit: limit, keep: key) }
    }

    /// Takes an flock without blocking a thread: tries, then sleeps 5 ms, until it holds.
    static func lock(_ fd: Int32, _ operation: Int32) async {
        while flock(fd, operation | LOCK_NB) != 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private func prepareCache(_ cache: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        } catch {
            throw MusterError(
                .environment,
                "cannot create the Postgres template cache \(cache): \(error.localizedDescription); set MUSTER_NO_TEMPLATE=1 to run initdb instead"
            )
        }
        // As root the postgres user must pass through to its templates, and only that.
        chmod(cache, credentials == nil ? 0o700 : 0o711)
        FolderPlacement.spreadSubfolders(of: cache)  // each template made in a block group of its own
    }

    /// initdb into a staging folder, the manifest, then a rename into place.
    private func make(_ template: String, environment: [String: String], logFD: Int32) async throws {
        let staging = template + ".making-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try PostgresEngine.prepareDirectory(staging, credentials: credentials, mode: 0o700)
        try await PostgresEngine.runInitdb(
            bin: bin, dataDir: staging, arguments: initdbArguments, credentials: credentials,
            environment: environment, logFD: logFD)
        // Blocks of zeros (most of the 16 MB WAL segment, empty pages) become holes: cp
        // keeps the holes of a sparse source, so every copy reads and writes 27 MB instead
        // of 39 MB. The bytes are the same; Postgres reads a hole as the zeros it held.
        let sparse = staging + ".sparse"
        if try await CopyTree.copy(staging, to: sparse, logFD: logFD, sparse: true) {
            try? FileManager.default.removeItem(atPath: staging)
            guard rename(sparse, staging) == 0 else {
                try? FileManager.default.removeItem(atPath: sparse)
                throw MusterError(
                    .environment,
                    "cannot move the new Postgres template into \(staging): \(String(cString: strerror(errno)))")
            }
        }
        try TemplateManifest.write(for: staging)
        guard rename(staging, template) == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            throw MusterError(
                .environment,
                "cannot move the new Postgres template into \(template): \(String(cString: strerror(errno)))")
        }
    }
}

/// The files of a template and their sizes, and a checksum of `pg_control`, kept in
/// the template folder's parent as `KEY.manifest`, so a template that lost a file,
/// changed size or had its control file altered is never copied.
enum TemplateManifest {
    static func path(for template: String) -> String { template + ".manifest" }

    static func describe(_ folder: String) -> String? {
        var lines: [String] = []
        lines.reserveCapacity(1024)
        guard list(folder, under: "", into: &lines),
            let control = FileManager.default.contents(atPath: folder + "/global/pg_control")
        else { return nil }
        lines.sort()
        lines.append("pg_control \(fnv1a(control))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// "d PATH" for a folder, "f PATH SIZE" for anything else, depth first; readdir and
    /// fstatat, since a check runs before every cluster is made (a thousand entries).
    private static func list(_ root: String, under relative: String, into lines: inout [String]) -> Bool {
        guard let directory = opendir(relative.isEmpty ? root : root + "/" + relative) else { return false }
        defer { closedir(directory) }
        let fd = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
            let path = relative.isEmpty ? name : relative + "/" + name
            if info.st_mode & S_IFMT == S_IFDIR {
                lines.append("d " + path)
                guard list(root, under: path, into: &lines) else { return false }
            } else {
                lines.append("f \(path) \(info.st_size)")
            }
        }
        return true
    }

    /// FNV-1a over the bytes: enough to notice a changed control file, no crypto needed.
    static func fnv1a(_ data: Data) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        return String(value, radix: 16)
    }

    static func write(for staging: String) throws {
        guard let text = describe(staging) else {
            throw MusterError(.environment, "cannot read the new Postgres template \(staging)")
        }
        // Named after the final folder: staging is "KEY.making-PID".
        let final = String(
            staging[..<(staging.range(of: ".making-", options: .backwards)?.lowerBound ?? staging.endIndex)])
        try text.write(toFile: path(for: final), atomically: true, encoding: .utf8)
    }

    static func matches(_ template: String) -> Bool {
        matches(template, manifestOf: template)
    }

    /// Whether `folder` holds exactly what the template's manifest lists (a copy of it).
    static func matches(_ folder: String, manifestOf template: String) -> Bool {
        guard let expected = try? String(contentsOfFile: path(for: template), encoding: .utf8),
            let actual = describe(folder)
        else { return false }
        return expected == actual
    }
}

/// `cp -a --reflink=auto`: a copy-on-write clone where the file system allows it
/// (btrfs, XFS), a plain copy elsewhere, keeping the holes of a sparse source; made in
/// a staging folder and renamed into place. `sparse`: blocks of zeros become holes.
enum CopyTree {
    /// `spare`: a copy made ahead of time while the stack serves, at the lowest CPU
    /// priority; `spawned` learns its pid (to stop it), and a failure is not logged.
    static func copy(
        _ source: String, to destination: String, logFD: Int32, sparse: Bool = false,
        spare spawned: (@Sendable (pid_t) async -> Void)? = nil
    ) async throws -> Bool {
        // A name of its own (FolderPlacement): a thousand new files, away from the last deletion.
        FolderPlacement.sweepStaging(for: destination, "copying")
        let staging = FolderPlacement.staging(for: destination, "copying")
        var argv = ["/bin/cp", "-a", sparse ? "--sparse=always" : "--reflink=auto", source, staging]
        if spawned != nil, access("/usr/bin/nice", X_OK) == 0 { argv = ["/usr/bin/nice", "-n", "19"] + argv }
        var request = SpawnRequest(
            executable: argv[0], arguments: argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"])
        request.outputFD = logFD
        let pid = try await ProcessSpawner.shared.spawn(request)
        await spawned?(pid)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        guard status.isSuccess else {
            try? FileManager.default.removeItem(atPath: staging)
            if spawned == nil {
                writeAll(logFD, "muster: copying the Postgres template failed (cp \(status)); running initdb instead\n")
            }
            return false
        }
        return try install(destination, from: staging)
    }

    /// `fill` makes `destination + ".copying"`; when it says so, that folder is renamed
    /// into place. False (and nothing left behind) when `fill` fails.
    static func install(_ destination: String, _ fill: (String) -> Bool) throws -> Bool {
        try install(destination, from: destination + ".copying", fill)
    }

    /// Renames `staging`, once `fill` made it, into place.
    static func install(_ destination: String, from staging: String, _ fill: (String) -> Bool = { _ in true }) throws
        -> Bool
    {
        guard fill(staging) else {
            try? FileManager.default.removeItem(atPath: staging)
            return false
        }
        guard rename(staging, destination) == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            throw MusterError(
                .environment, "cannot move the new cluster into \(destination): \(String(cString: strerror(errno)))")
        }
        return true
    }
}
