import Foundation

/// What a running supervisor publishes in its runtime dir for other commands:
/// its pid, the ports it chose and every service's outputs.
public struct RuntimeState: Codable, Sendable {
    public var pid: Int32
    public var project: String
    public var stackFile: String
    public var outputs: [String: [String: String]]
    public var ports: [String: Int]
    /// Every process group the stack has used: what `down` and the next `up` check
    /// for leftovers when the supervisor itself is gone.
    public var groups: [Int32]?
    /// The supervisor's guardian process, which `down` also waits for.
    public var guardian: Int32?

    public init(
        pid: Int32, project: String, stackFile: String, outputs: [String: [String: String]], ports: [String: Int],
        groups: [Int32] = []
    ) {
        self.pid = pid
        self.project = project
        self.stackFile = stackFile
        self.outputs = outputs
        self.ports = ports
        self.groups = groups
    }

    /// `DB_URL`, `CACHE_URL`, ... sorted by name (SPEC "Outputs").
    public var variables: [(String, String)] { Self.variables(of: outputs) }

    public static func variables(of outputs: [String: [String: String]]) -> [(String, String)] {
        var result: [(String, String)] = []
        for (service, values) in outputs {
            for (key, value) in values {
                let name = (service + "_" + key).uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
                result.append((String(name), value))
            }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    public func write(_ paths: ProjectPaths) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        let temporary = paths.statusFile + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else {
            throw MusterError(.environment, "cannot write \(paths.statusFile)")
        }
        rename(temporary, paths.statusFile)
    }

    /// The state of a live supervisor, or nil when none runs.
    public static func read(_ paths: ProjectPaths) -> RuntimeState? {
        guard let state = readAny(paths), ProcessTable.isAlive(state.pid) else { return nil }
        return state
    }

    /// Whatever the last supervisor left, alive or not.
    public static func readAny(_ paths: ProjectPaths) -> RuntimeState? {
        readFile(paths.statusFile)
    }

    static func readFile(_ path: String) -> RuntimeState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(RuntimeState.self, from: data)
    }

    /// Ports held by other live projects of this user, so that `port: auto` never
    /// hands two projects the same port, even when both start at the same moment.
    public static func portsOfOtherProjects(than paths: ProjectPaths) -> Set<Int> {
        var ports = Set<Int>()
        let base = ProjectPaths.runtimeBase
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        for entry in entries where base + "/" + entry != paths.runtimeDir {
            guard let state = readFile(base + "/" + entry + "/status.json") else { continue }
            if ProcessTable.isAlive(state.pid) {
                ports.formUnion(state.ports.values)
            } else if state.stackFile.hasPrefix("/"), !FileManager.default.fileExists(atPath: state.stackFile) {
                removeAbandoned(entry, among: entries)
            }
        }
        return ports
    }

    /// The runtime dir of a supervisor that died (SIGKILLed, say) after its project
    /// folder was deleted: nobody will `up` that project again to recover it, so it
    /// is removed, with its socket dirs, under its own lock (never while held).
    private static func removeAbandoned(_ entry: String, among entries: [String]) {
        let base = ProjectPaths.runtimeBase
        let fd = open(base + "/" + entry + "/lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return }
        for sibling in entries where sibling == entry || sibling.hasPrefix(entry + ".") {
            try? FileManager.default.removeItem(atPath: base + "/" + sibling)
        }
    }

    /// Kills what is left in the groups of a supervisor that died, and says what it did.
    public static func recoverStale(_ paths: ProjectPaths) -> [String] {
        // Only called with the project lock held: any state on disk is stale.
        guard let state = readAny(paths) else { return [] }
        var notes: [String] = []
        for member in ProcessTable.members(ofGroups: Set(state.groups ?? [])) {
            notes.append("killed leftover pid \(member.pid) (\(ProcessTable.commandLine(member.pid) ?? "?"))")
            kill(member.pid, SIGKILL)
        }
        notes.insert("recovered from supervisor pid \(state.pid), which ended without cleaning up", at: 0)
        // Killed is not gone: a Postgres backend still exiting keeps its shared memory
        // attached, and a new postmaster on the same data refuses to start until it is
        // detached. Wait (up to 5 s) until nothing of those groups is left but zombies.
        let groups = Set(state.groups ?? []).filter { $0 > 1 }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline,
            ProcessTable.allPids().contains(where: { pid in
                guard let entry = ProcessTable.entry(pid), entry.state != "Z", entry.state != "X" else { return false }
                return groups.contains(entry.processGroup) || groups.contains(entry.session)
            })
        {
            usleep(5_000)
        }
        return notes
    }
}

/// POSIX shell single-quoting.
public enum ShellQuote {
    public static func quote(_ value: String) -> String {
        if !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:@%+=,".contains($0)) })
        {
            return value
        }
        return "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// One supervisor per project: an exclusive `flock` on the runtime dir's lock file,
/// released by the kernel when the supervisor dies, however it dies.
public final class ProjectLock {
    private let fd: Int32

    public init(_ paths: ProjectPaths) throws {
        fd = open(paths.lockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw MusterError(.environment, "cannot open \(paths.lockFile): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            // No close here: an initializer that throws after setting every property
            // still runs deinit, which closes fd (closing twice could hit a reused fd).
            let holder = RuntimeState.read(paths).map { " (supervisor pid \($0.pid))" } ?? ""
            throw MusterError(
                .alreadyRunning,
                "project \(paths.project) is already running\(holder); use muster down first, or -p NAME for a second copy"
            )
        }
    }

    deinit { close(fd) }

    /// True while some process holds the project's lock (a supervisor running or starting).
    public static func isHeld(_ paths: ProjectPaths) -> Bool {
        let fd = open(paths.lockFile, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }
}
