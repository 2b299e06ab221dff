import Foundation

/// Where a project keeps things. State lives beside the stack file in
/// `.muster/PROJECT/`; sockets live in a short runtime dir under /tmp, so socket
/// paths stay under the kernel's 108-byte limit however deep the project is, and
/// `.muster/PROJECT/run` links to it.
public struct ProjectPaths: Sendable {
    public let project: String
    public let stateDir: String
    public let runtimeDir: String

    public init(stack: StackSpec, project: String? = nil) {
        self.init(directory: stack.directory, project: project ?? stack.name)
    }

    public init(directory: String, project: String) {
        self.project = project
        self.stateDir = directory + "/.muster/" + project
        self.runtimeDir = Self.runtimeBase + "/" + Self.hash(stateDir)
    }

    public var dataDir: String { stateDir + "/data" }
    public var logsDir: String { stateDir + "/logs" }
    public var runLink: String { stateDir + "/run" }
    public var eventsFile: String { stateDir + "/events.jsonl" }
    public var lockFile: String { runtimeDir + "/lock" }
    public var statusFile: String { runtimeDir + "/status.json" }
    public var controlSocket: String { runtimeDir + "/control.sock" }

    public func logFile(for service: String) -> String { logsDir + "/" + service + ".log" }
    public func dataDir(for service: String) -> String { dataDir + "/" + service }
    /// The unix socket folder of a Postgres service (short: under the runtime base).
    public func postgresSocketDir(for service: String) -> String {
        Self.runtimeBase + "/" + Self.hash(stateDir) + ".pg-" + service
    }

    /// `/tmp/muster-UID`, searchable (0711) so a dropped-privilege server can reach
    /// its own socket directory inside; listing stays owner-only.
    public static var runtimeBase: String { "/tmp/muster-\(getuid())" }

    /// Creates the folders; the runtime dir is 0700 and owned by us.
    public func prepare() throws {
        let fm = FileManager.default
        for dir in [stateDir, dataDir, logsDir] {
            try create(dir, mode: 0o755)
        }
        try create(Self.runtimeBase, mode: 0o711)
        var info = stat()
        guard lstat(Self.runtimeBase, &info) == 0, info.st_uid == getuid(), (info.st_mode & S_IFMT) == S_IFDIR else {
            throw MusterError(.environment, "\(Self.runtimeBase) is not a directory owned by you; remove it and retry")
        }
        chmod(Self.runtimeBase, 0o711)
        try create(runtimeDir, mode: 0o700)
        chmod(runtimeDir, 0o700)
        if (try? fm.destinationOfSymbolicLink(atPath: runLink)) != runtimeDir {
            try? fm.removeItem(atPath: runLink)
            try? fm.createSymbolicLink(atPath: runLink, withDestinationPath: runtimeDir)
        }
    }

    /// Deletes the project's data (`down --volumes`), with the Postgres clusters that
    /// live outside the project folder (see `PostgresDataHome`). Returns what stayed,
    /// "PATH: REASON" each; empty when everything is gone.
    public func removeData() -> [String] {
        (PostgresDataHome.linkedClusters(in: dataDir) + [dataDir]).compactMap(TreeRemoval.remove)
    }

    /// Removes runtime state (sockets, pids, lock); data and logs stay.
    public func removeRuntime() {
        try? FileManager.default.removeItem(atPath: runtimeDir)
        try? FileManager.default.removeItem(atPath: runLink)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: Self.runtimeBase)) ?? []
        where entry.hasPrefix(Self.hash(stateDir) + ".") {
            try? FileManager.default.removeItem(atPath: Self.runtimeBase + "/" + entry)
        }
    }

    private func create(_ dir: String, mode: Int) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: dir, withIntermediateDirectories: true,
                attributes: [.posixPermissions: mode])
        } catch {
            throw MusterError(
                .environment, "cannot create \(dir): \(error.localizedDescription); check permissions and free space")
        }
    }

    /// FNV-1a, 64 bits, as 16 hex digits: short, stable, no crypto needed.
    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01b3
        }
        return String(value, radix: 16).leftPadded(to: 16)
    }
}
