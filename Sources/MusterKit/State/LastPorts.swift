import Foundation

/// The ports a project's services had at its last start, in `.muster/PROJECT/ports.json`.
/// It outlives `down` (the runtime folder does not), so the next start offers each
/// `port: auto` engine (Postgres, Redis, Kafka) the port it had when that port is still
/// free (`StackSession`): an address printed before, such as the connection string of a
/// database kept for a failed test under a `muster run` that has since stopped the
/// stack, works again after `muster up -d`.
public enum LastPorts {
    static func file(_ paths: ProjectPaths) -> String { paths.stateDir + "/ports.json" }

    /// The ports of the last start; empty when there was none (or the file does not read).
    public static func read(_ paths: ProjectPaths) -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: file(paths)),
            let ports = try? JSONDecoder().decode([String: Int].self, from: data)
        else { return [:] }
        return ports
    }

    /// Written under a temporary name and renamed; a failure only loses the preference.
    public static func write(_ ports: [String: Int], _ paths: ProjectPaths) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(ports) else { return }
        let temporary = file(paths) + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o644])
        else { return }
        if rename(temporary, file(paths)) != 0 { unlink(temporary) }
    }
}
