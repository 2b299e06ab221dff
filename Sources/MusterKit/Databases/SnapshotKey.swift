import Crypto
import Foundation

/// What names a keyed snapshot (`snapshot: { after: migrate, key: [GLOBS] }`): a
/// SHA-256 over the files the globs match (their paths relative to the stack file, and
/// contents, in path order), the task's command and environment as written (before
/// `${service.output}` references are filled in: a port chosen by `port: auto` changes
/// from run to run, the migration does not), and the Postgres build. Occurrences of the
/// stack file's folder in the command and environment count as `.`, so the same
/// project in another folder (a CI job's checkout) has the same key.
public struct SnapshotKey: Sendable, Equatable {
    /// 64 hex digits.
    public let hex: String

    /// How the key appears in messages: the first 8 digits and an ellipsis.
    public var short: String { String(hex.prefix(8)) + "…" }

    /// `files`: the key's files as (path relative to the stack folder, contents).
    public static func make(
        files: [(path: String, contents: Data)], command: String, environment: [(String, String)],
        postgresBuild: String
    ) -> SnapshotKey {
        var hasher = SHA256()
        func add(_ text: String) {
            hasher.update(data: Data(text.utf8))
            hasher.update(data: Data([0]))
        }
        add("muster snapshot key 1")
        for file in files.sorted(by: { $0.path < $1.path }) {
            add("file " + file.path)
            add(SHA256.hash(data: file.contents).map { String(format: "%02x", $0) }.joined())
        }
        add("command " + command)
        for (name, value) in environment.sorted(by: { $0.0 < $1.0 }) { add("env " + name + "=" + value) }
        add("postgres " + postgresBuild)
        return SnapshotKey(hex: hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// The key of `postgres`'s snapshot now: reads the files, and takes the task's
    /// command and environment from the stack. Nil when the snapshot has no `key:`.
    public static func current(for postgres: ServiceSpec, in stack: StackSpec, postgresBuild: String) -> SnapshotKey? {
        guard let snapshot = postgres.engine?.snapshot, !snapshot.key.isEmpty,
            let task = stack.service(named: snapshot.after)
        else {
            return nil
        }
        let base = snapshot.keyBase
        var paths = Set<String>()
        for glob in snapshot.key { paths.formUnion(SnapshotKeyFiles.matches(glob.pattern, base: base)) }
        let files = paths.map { path in
            (
                path: path,
                contents: FileManager.default.contents(atPath: path.hasPrefix("/") ? path : base + "/" + path) ?? Data()
            )
        }
        let local = { (text: String) in text.replacingOccurrences(of: base, with: ".") }
        let command = task.command.map { local($0.templates.map(\.description).joined(separator: "\u{1}")) } ?? ""
        var environment: [String: String] = [:]
        for entry in stack.env + task.envFileValues + task.env {
            environment[entry.key] = local(entry.value.description)
        }
        return make(
            files: files, command: command, environment: environment.map { ($0.key, $0.value) },
            postgresBuild: postgresBuild)
    }
}

/// The identity of a Postgres build: what `postgres --version` prints (the same on
/// every machine with the same package, wherever it is installed), remembered per
/// binary (its path, size and modification time) for the life of the process and, in
/// `files` when given (the project's, and the machine's beside the Postgres templates),
/// for the next start: running `postgres --version` took 8–16 ms of each start of a
/// stack with a keyed snapshot, a third of a cache hit's time before its copy.
enum PostgresBuild {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var known: [String: String] = [:]  // under `lock`

    static func identity(of postgres: String, rememberedIn files: [String] = []) async -> String {
        var info = stat()
        _ = stat(postgres, &info)
        let binary = "\(postgres)|\(info.st_size)|\(info.st_mtim.tv_sec)"
        if let cached = lock.withLock({ known[binary] }) { return cached }
        // A file: the binary's line, then its identity (another binary's is not used).
        // The first that knows this binary answers, and the others learn it.
        for (index, file) in files.enumerated() {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let end = text.firstIndex(of: "\n"), text[..<end] == binary, text.index(after: end) < text.endIndex
            else { continue }
            let identity = String(text[text.index(after: end)...])
            lock.withLock { known[binary] = identity }
            for other in files[..<index] { remember(binary, identity, in: other) }
            return identity
        }
        let version = (await ProgramOutput.run([postgres, "--version"]))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        // Without an answer, the binary itself stands for the build (not written down).
        guard let version, !version.isEmpty else {
            lock.withLock { known[binary] = "binary " + binary }
            return "binary " + binary
        }
        lock.withLock { known[binary] = version }
        for file in files { remember(binary, version, in: file) }
        return version
    }

    private static func remember(_ binary: String, _ identity: String, in file: String) {
        try? FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? (binary + "\n" + identity).write(toFile: file, atomically: true, encoding: .utf8)
    }

    /// The machine's memory of `postgres`'s identity: beside the Postgres templates (a new
    /// project, a CI job's fresh checkout on a machine that ran muster before, knows it).
    static func machineFile(for postgres: String, environment: [String: String]) -> String {
        PostgresTemplate.cacheDirectory(asRoot: geteuid() == 0, environment: environment) + "/postgres-build-"
            + ProjectPaths.hash(postgres)
    }

    /// Forgets what this process learned (tests: the next lookup reads the file or runs the binary).
    static func forget() { lock.withLock { known = [:] } }
}

/// Runs a short program and returns what it printed (stdout and stderr), or nil when
/// it could not run or did not exit 0.
enum ProgramOutput {
    static func run(_ argv: [String], environment: [String] = ["PATH=/usr/bin:/bin", "LC_ALL=C"]) async -> String? {
        let path = NSTemporaryDirectory() + "/muster-output-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer {
            close(fd)
            unlink(path)
        }
        var request = SpawnRequest(executable: argv[0], arguments: argv, environment: environment)
        request.outputFD = fd
        guard let status = try? await ProcessSpawner.shared.runToExit(request), status.isSuccess,
            let data = FileManager.default.contents(atPath: path)
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
