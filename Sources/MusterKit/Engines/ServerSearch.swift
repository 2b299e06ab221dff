import Foundation

/// Where a server program was looked for, in order, and where it was found. Engines
/// use it to start the server; `muster doctor` shows it; and when nothing is found,
/// the error names every place looked and the one command that installs the server,
/// so a user never has to guess why muster "cannot find Postgres".
public struct ServerSearch: Sendable {
    /// `postgres`, `redis` or `kafka`.
    public let server: String
    /// Each place looked, as a person would name it (`PATH (/usr/bin:/bin)`), in order.
    public private(set) var places: [String] = []
    /// The program found: `postgres` itself, `redis-server`, or the broker's program.
    public private(set) var found: String?
    /// The place (one of `places`) where it was found.
    public private(set) var foundIn: String?
    /// The command that installs the server on this machine.
    public let install: String

    public init(server: String, install: String) {
        self.server = server
        self.install = install
    }

    /// Records that `place` was looked at; keeps the first candidate that `accept`s.
    /// Returns true once something is found, so callers can stop early.
    @discardableResult
    mutating func look(
        _ place: String, _ candidates: [String], accept: (String) -> Bool = ProgramLocator.isExecutableFile
    ) -> Bool {
        guard found == nil else { return true }
        places.append(place)
        if let hit = candidates.first(where: accept) {
            found = hit
            foundIn = place
        }
        return found != nil
    }

    /// One line for the error: what is missing, every place looked, and the fix.
    public func notFound(service: String) -> String {
        "service \(service): no \(server) server found; looked in \(places.joined(separator: ", ")); install it with: \(install)"
    }
}

/// The folders where package managers other than Debian's put servers: Homebrew
/// (macOS and Linux) and Nix profiles.
enum PackageManagerFolders {
    static func homebrew(formulas: [String]) -> [String] {
        let prefixes = ["/opt/homebrew", "/home/linuxbrew/.linuxbrew", "/usr/local"]
        var folders: [String] = []
        for prefix in prefixes {
            for formula in formulas {
                // Versioned formulas (postgresql@16) first, the newest version first.
                let opt = prefix + "/opt"
                let versions = ((try? FileManager.default.contentsOfDirectory(atPath: opt)) ?? [])
                    .filter { $0 == formula || $0.hasPrefix(formula + "@") }
                    .sorted { versionNumber($0) > versionNumber($1) }
                folders += versions.map { opt + "/" + $0 + "/bin" }
            }
            if prefix != "/usr/local" { folders.append(prefix + "/bin") }
        }
        return folders
    }

    static func nix(environment: [String: String]) -> [String] {
        var folders: [String] = []
        if let home = environment["HOME"] {
            folders += [home + "/.nix-profile/bin", home + "/.local/state/nix/profile/bin"]
        }
        if let user = environment["USER"] { folders.append("/etc/profiles/per-user/\(user)/bin") }
        return folders + ["/nix/var/nix/profiles/default/bin", "/run/current-system/sw/bin"]
    }

    private static func versionNumber(_ formula: String) -> Int {
        Int(formula.split(separator: "@").last.map(String.init) ?? "") ?? 0
    }
}

/// Runs a short query program (`pg_config --bindir`) and returns its first line.
/// It reads until end of file and never waits for the exit status by itself: in the
/// supervisor, the reaper collects every child (see `ProcessReaper`).
enum QueryProgram {
    static func firstLine(_ argv: [String], timeoutMs: Int32 = 2000) -> String? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        defer { close(fds[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        close(fds[1])
        guard spawned == 0 else { return nil }
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var poller = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while output.count < 65536, poll(&poller, 1, timeoutMs) > 0 {
            let count = read(fds[0], &buffer, buffer.count)
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)  // ECHILD when the reaper got it first: fine
        }
        let text = String(decoding: output, as: UTF8.self)
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}

extension ServerSearch {
    /// The command that installs a Debian package, with sudo when not root.
    static func aptInstall(_ package: String) -> String {
        (getuid() == 0 ? "" : "sudo ") + "apt-get install \(package)"
    }

    /// Folders of `PATH`, as a place name and a list of candidates.
    static func pathFolders(_ path: String?) -> [String] {
        (path ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
    }

    /// The folder muster itself was installed into (`PREFIX/bin/muster` →
    /// `PREFIX/lib/muster`), plus the two default prefixes of `scripts/install`.
    static func installFolders(environment: [String: String]) -> [String] {
        var folders: [String] = []
        if let exe = SystemPaths.executable {
            let prefix = ((exe as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
            folders.append(prefix + "/lib/muster")
        }
        folders.append("/usr/local/lib/muster")
        if let home = environment["HOME"] { folders.append(home + "/.local/lib/muster") }
        var seen = Set<String>()
        return folders.filter { seen.insert($0).inserted }
    }
}

extension PostgresEngine {
    /// Postgres: the service's `bin:`, `PATH`, `pg_config --bindir`, Debian's
    /// `/usr/lib/postgresql/N/bin` (the highest N), Homebrew and Nix. A folder counts
    /// only when `initdb` is beside `postgres`.
    public static func locate(bin: String?, environment: [String: String]) -> ServerSearch {
        var search = ServerSearch(server: "postgres", install: ServerSearch.aptInstall("postgresql"))
        let withInitdb: (String) -> Bool = { candidate in
            ProgramLocator.isExecutableFile(candidate)
                && ProgramLocator.isExecutableFile((candidate as NSString).deletingLastPathComponent + "/initdb")
        }
        if let bin {
            search.look("its bin: \(bin)", [bin + "/postgres"], accept: withInitdb)
            return search
        }
        let path = environment["PATH"]
        if search.look(
            "PATH (\(path ?? ""))", ServerSearch.pathFolders(path).map { $0 + "/postgres" }, accept: withInitdb)
        {
            return search
        }
        if let pgConfig = ProgramLocator.find("pg_config", workingDir: "/", path: path ?? "") {
            let folder = QueryProgram.firstLine([pgConfig, "--bindir"])
            if search.look(
                "\(pgConfig) --bindir (\(folder ?? "no answer"))", folder.map { [$0 + "/postgres"] } ?? [],
                accept: withInitdb)
            {
                return search
            }
        } else {
            search.look("pg_config --bindir (no pg_config on PATH)", [])
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/postgres" }
        if search.look("/usr/lib/postgresql/N/bin", versions, accept: withInitdb) { return search }
        let brew = PackageManagerFolders.homebrew(formulas: ["postgresql"])
        if search.look("Homebrew (\(brew.joined(separator: ", ")))", brew.map { $0 + "/postgres" }, accept: withInitdb)
        {
            return search
        }
        let nix = PackageManagerFolders.nix(environment: environment)
        search.look("Nix profiles (\(nix.joined(separator: ", ")))", nix.map { $0 + "/postgres" }, accept: withInitdb)
        return search
    }
}

extension RedisEngine {
    /// Redis: the service's `bin:`, `PATH`, `/usr/sbin` and `/usr/local/sbin`, Homebrew and Nix.
    public static func locate(bin: String?, environment: [String: String], program: String = "redis-server")
        -> ServerSearch
    {
        var search = ServerSearch(server: "redis", install: ServerSearch.aptInstall("redis-server"))
        if let bin {
            // bin: names a folder holding redis-server, or the server itself (valkey-server, say).
            search.look("its bin: \(bin)", [bin, bin + "/" + program])
            return search
        }
        let path = environment["PATH"]
        if search.look("PATH (\(path ?? ""))", ServerSearch.pathFolders(path).map { $0 + "/" + program }) {
            return search
        }
        if search.look(
            "/usr/sbin, /usr/local/sbin", ["/usr/sbin/" + program, "/usr/local/sbin/" + program, "/usr/bin/" + program])
        {
            return search
        }
        let brew = PackageManagerFolders.homebrew(formulas: ["redis"])
        if search.look("Homebrew (\(brew.joined(separator: ", ")))", brew.map { $0 + "/" + program }) { return search }
        let nix = PackageManagerFolders.nix(environment: environment)
        search.look("Nix profiles (\(nix.joined(separator: ", ")))", nix.map { $0 + "/" + program })
        return search
    }
}
