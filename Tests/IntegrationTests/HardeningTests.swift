import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// Faults and hostile conditions: nothing lost, nothing leaked. Quick sizes here;
/// `scripts/soak` runs the same tests with `MUSTER_SOAK=1` for the full sizes.
@Suite(.serialized) struct HardeningTests {
    static var soak: Bool { ProcessInfo.processInfo.environment["MUSTER_SOAK"] == "1" }

    /// The default stack with every long-running service under `restart: on-failure`.
    func chaosStack() throws -> TestStack {
        let stack = try TestStack.defaultStack()
        var text = try String(contentsOfFile: stack.file, encoding: .utf8)
        for engine in ["postgres", "redis", "kafka"] {
            text = text.replacingOccurrences(
                of: "    engine: \(engine)\n",
                with: "    engine: \(engine)\n    restart: on-failure\n    max_restarts: 1000\n")
        }
        text = text.replacingOccurrences(of: "max_restarts: 5", with: "max_restarts: 1000")
        try text.write(toFile: stack.file, atomically: true, encoding: .utf8)
        return stack
    }

    @Test func chaosEveryKillIsAnEventAndEverythingComesBack() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestStack.python), "run scripts/install-deps first")
        let stack = try chaosStack()
        try await stack.start()
        let port = try #require(stack.session?.outputs["db"]?["port"])
        let conninfo = "host=127.0.0.1 port=\(port) user=app password=app dbname=app"
        try PostgresConnection(conninfo).query("INSERT INTO users(name) VALUES ('before the storm')")

        var generator = SystemRandomNumberGenerator()
        var killed: [(service: String, pid: Int32)] = []
        let storm = ContinuousClock.now + .seconds(Self.soak ? 60 : 8)
        // On a loaded machine services come back slowly: the storm goes on (up to 60 s)
        // until it has killed at least three.
        let hardLimit = ContinuousClock.now + .seconds(60)
        let targets = ["db", "cache", "bus", "api", "notifier"]
        while ContinuousClock.now < storm || (killed.count < 3 && ContinuousClock.now < hardLimit) {
            let name = targets.randomElement(using: &generator)!
            // The supervisor's snapshot may lag the process: a notifier that a broker
            // restart made exit by itself still shows as ready for a moment. A kill
            // counts only when it reached a process that was running, not already on
            // its way out, and it is sent through a pidfd so a reused pid is never hit.
            if let snapshot = await stack.snapshot(name), snapshot.phase == .ready, let pid = snapshot.pid,
                !killed.contains(where: { $0.pid == pid }), let entry = ProcessTable.entry(pid), entry.isAlive,
                ProcessTable.signal(ProcessInstance(entry), SIGKILL)
            {
                killed.append((name, pid))
            }
            // A random pause between kills is the chaos itself, not a wait for anything.
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...2000, using: &generator)))
        }
        #expect(killed.count >= 3)

        // Afterwards every service is ready again.
        // Ready again as a new incarnation: right after the last kill the snapshot may still
        // show the killed pid as ready (its exit not yet processed), and the events read
        // below would then miss that exit.
        let killedPids = Set(killed.map(\.pid))
        let recovered = await eventually(within: .patience) {
            for name in targets {
                guard let snapshot = await stack.snapshot(name), snapshot.phase == .ready,
                    let pid = snapshot.pid, !killedPids.contains(pid)
                else { return false }
            }
            return true
        }
        var states: [String] = []
        for name in targets {
            let snapshot = await stack.snapshot(name)
            states.append(
                "\(name): \(snapshot.map { "\($0.phase) pid \($0.pid.map(String.init) ?? "none")" } ?? "none")")
        }
        #expect(recovered, "not every service came back after the storm: \(states), killed \(killed)")

        // Every killed incarnation ended in exactly one event, none missed, none twice;
        // no SIGKILL exit was invented. The ending says SIGKILL unless the process had
        // already begun to exit by itself when the kill reached it (a notifier ends
        // itself on a fatal broker error): then it carries its own exit code, and the
        // kill changed nothing, so the test may not expect more than one ending.
        let events = stack.events()
        let endings = events.filter { ["exited", "failed", "stopped"].contains($0.type.rawValue) }
        let sigkills = endings.filter { ($0.reason ?? "").contains("SIGKILL") }
        for victim in killed {
            let matching = endings.filter { $0.pid.map(Int.init) == Int(victim.pid) && $0.service == victim.service }
            let about = events.filter {
                $0.pid.map(Int.init) == Int(victim.pid) || $0.previousPid.map(Int.init) == Int(victim.pid)
            }
            #expect(
                matching.count == 1,
                "kill of \(victim.service) pid \(victim.pid) ended \(matching.count) times; its events: \(about)")
        }
        #expect(!sigkills.isEmpty, "no kill of the storm was recorded as a SIGKILL")
        let killedNumbers = Set(killed.map { Int($0.pid) })
        for event in sigkills {
            #expect(killedNumbers.contains(event.pid.map(Int.init) ?? -1), "an exit by SIGKILL nobody sent: \(event)")
        }
        let seqs = events.map(\.seq)
        #expect(seqs == Array(1...seqs.count), "seq has gaps")

        // The data survived.
        let rows = try PostgresConnection(conninfo).value("SELECT count(*) FROM users WHERE name = 'before the storm'")
        #expect(rows == "1")
        await stack.finish()
    }

    @Test func supervisorKilledAtRandomMomentsLeavesNothing() async throws {
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
              cache:
                engine: redis
                port: auto
              app:
                command: "sleep 300 & sleep 300 & echo up; wait"
                depends_on: [db, cache]
                ready: { log: up }
            """)
        defer { stack.cleanup() }
        let rounds = Self.soak ? 20 : 4
        for round in 0..<rounds {
            // Start a detached supervisor and kill it after a random delay: during up,
            // once up, or while down is running.
            let cli = try await CLIResult.spawn(
                [TestStack.binary, "up", "-d"], in: stack.directory,
                output: stack.directory + "/up-\(round).out")
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...1500)))
            var down: Task<CLIResult, Error>?
            if round % 2 == 1 {
                down = Task { try await stack.muster("down") };
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...300)))
            }
            let supervisor = RuntimeState.readAny(stack.paths)?.pid
            let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
            if let supervisor, ProcessTable.isAlive(supervisor) { kill(supervisor, SIGKILL) }
            _ = await ProcessReaper.shared.exitStatus(of: cli)
            ProcessReaper.shared.forget(cli)
            _ = try await down?.value
            let gone = await eventually(within: .seconds(10)) {
                groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty }
            }
            #expect(gone, "round \(round): processes outlived the supervisor")
            // The next up -d needs no manual step.
            let up = try await stack.muster("up", "-d")
            #expect(up.status == 0, "round \(round): up -d after the kill failed: \(up.output)")
            let downResult = try await stack.muster("down")
            #expect(downResult.status == 0, "round \(round): \(downResult.output)")
        }
    }

    @Test func committedRowsSurviveDownUpAndSupervisorKills() async throws {
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
                databases: [keep]
            """)
        defer { stack.cleanup() }
        var written = 0
        let cycles = Self.soak ? 50 : 5
        for cycle in 0..<(cycles + (Self.soak ? 10 : 2)) {
            let up = try await stack.muster("up", "-d")
            try #require(up.status == 0, "cycle \(cycle): \(up.output)")
            let env = try await stack.env()
            let connection = try PostgresConnection(
                "host=127.0.0.1 port=\(env["DB_PORT"] ?? "0") user=postgres dbname=keep")
            try connection.query("CREATE TABLE IF NOT EXISTS rows (n int PRIMARY KEY)")
            #expect(
                try connection.value("SELECT count(*) FROM rows") == String(written), "cycle \(cycle): rows were lost")
            try connection.query("INSERT INTO rows SELECT g FROM generate_series(\(written + 1), \(written + 100)) g")
            written += 100
            if cycle >= cycles {
                // A supervisor SIGKILL instead of an orderly down.
                // Gone before the next up -d, which would otherwise attach to it ("already running").
                let pid = try #require(RuntimeState.readAny(stack.paths)?.pid, "cycle \(cycle): no supervisor pid")
                kill(pid, SIGKILL)
                #expect(
                    await offload { ProcessTable.waitForExit(pid, within: .patience) },
                    "cycle \(cycle): the supervisor outlived SIGKILL")
            } else {
                #expect(try await stack.muster("down").status == 0)
            }
        }
        #expect(try await stack.muster("up", "-d").status == 0)
        let env = try await stack.env()
        #expect(
            try PostgresConnection("host=127.0.0.1 port=\(env["DB_PORT"] ?? "0") user=postgres dbname=keep").value(
                "SELECT count(*) FROM rows") == String(written))
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func faultsGetOneClearLine() async throws {
        // A missing server binary.
        let missing = try TestStack(
            """
            services:
              cache:
                engine: redis
                bin: /nonexistent/redis/bin
            """)
        defer { missing.cleanup() }
        let result = try await missing.muster("up", "-d", "--timeout", "20s")
        #expect(result.status == 1 || result.status == 2, "\(result.output)")
        #expect(
            result.output.contains("redis-server") && result.output.contains("/nonexistent/redis/bin"),
            "\(result.output)")

        // A data dir that cannot be written (a file where the folder should be).
        let blocked = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
            """)
        defer { blocked.cleanup() }
        try FileManager.default.createDirectory(atPath: blocked.paths.dataDir, withIntermediateDirectories: true)
        try "not a folder".write(toFile: blocked.paths.dataDir(for: "db"), atomically: true, encoding: .utf8)
        let up = try await blocked.muster("up", "-d", "--timeout", "20s")
        #expect(up.status == 1, "\(up.output)")
        #expect(up.output.contains("db"), "\(up.output)")
        #expect(
            up.output.split(separator: "\n").first { $0.hasPrefix("error:") } != nil,
            "one clear error line: \(up.output)")
        #expect(ControlClient.connect(blocked.paths) == nil)
    }

    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func aFullDiskIsNamed() async throws {
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
            """)
        defer { stack.cleanup() }
        let mountPoint = stack.directory + "/.muster"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mount = try await CLIResult.run(
            command: ["/bin/mount", "-t", "tmpfs", "-o", "size=6m,mode=755", "tmpfs", mountPoint], in: "/")
        try #require(mount.status == 0, "root could not mount a tmpfs here: \(mount.output)")
        defer { _ = try? FileManager.default.removeItem(atPath: stack.directory + "/unmounted") }
        let up = try await stack.muster("up", "-d", "--timeout", "60s")
        _ = try await CLIResult.run(command: ["/bin/umount", "-l", mountPoint], in: "/")
        #expect(up.status == 1, "\(up.output)")
        #expect(up.output.contains("the disk is full") && up.output.contains("No space left on device"), "\(up.output)")
        #expect(ControlClient.connect(stack.paths) == nil)
    }

    @Test(
        .enabled(
            if: getuid() == 0 && getpwnam("nobody") != nil
                && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
            "needs root, the nobody user and python3 to act as another user"))
    func anotherUserCannotReachTheControlSocket() async throws {
        let nobody = try #require(getpwnam("nobody")?.pointee)
        let stack = try TestStack(
            """
            services:
              idle:
                command: ["sleep", "300"]
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        var request = SpawnRequest(
            executable: "/usr/bin/python3",
            arguments: [
                "python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
                stack.paths.controlSocket,
            ],
            environment: ["PATH=/usr/bin:/bin"], workingDirectory: "/")
        request.credentials = (nobody.pw_uid, nobody.pw_gid)
        request.parentDeathSignal = 0
        let pid = try await ProcessSpawner.shared.spawn(request)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        #expect(status != .exited(0), "user nobody connected to the control socket")

        // muster itself listens on no TCP port.
        let supervisor = try #require(RuntimeState.readAny(stack.paths)?.pid)
        let sockets = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(supervisor)/fd")) ?? []).compactMap { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(supervisor)/fd/\(fd)"))
                    .flatMap { $0.hasPrefix("socket:[") ? String($0.dropFirst(8).dropLast()) : nil }
            })
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let lines = ((try? String(contentsOfFile: table, encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
            for line in lines {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A" else { continue }  // LISTEN
                #expect(!sockets.contains(String(fields[9])), "the supervisor listens on TCP: \(line)")
            }
        }
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func secretsStayMaskedAndListCommandsAreNotReparsed() async throws {
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
                port: auto
                user: shop
                password: hunter2-very-secret
              literal:
                command: ["sh", "-c", "printf '%s\\\\n' \\"$0\\" > arg.txt; echo ok; sleep 300", "$(touch pwned)"]
                env: { DATABASE_URL: "${db.url}", API_TOKEN: "tok-hunter2-very-secret" }
                depends_on: [db]
                ready: { log: ok }
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let secret = "hunter2-very-secret"
        let run = try await stack.muster("run", "--report", "report.json", "--", "true")
        for (what, text) in [
            ("config", try await stack.muster("config").output),
            ("config --json", try await stack.muster("config", "--json").output),
            ("ps --json", try await stack.muster("ps", "--json").output),
            ("events", try await stack.muster("events", "--json").output),
            ("run", run.output),
            ("report", (try? String(contentsOfFile: stack.directory + "/report.json", encoding: .utf8)) ?? "missing"),
            (
                "supervisor.log",
                (try? String(contentsOfFile: stack.paths.stateDir + "/supervisor.log", encoding: .utf8)) ?? ""
            ),
        ] {
            #expect(!text.contains(secret), "\(what) shows a secret")
        }
        // A list command is exec'd as is: $(...) reaches the program literally.
        #expect(try String(contentsOfFile: stack.directory + "/arg.txt", encoding: .utf8) == "$(touch pwned)\n")
        #expect(!FileManager.default.fileExists(atPath: stack.directory + "/pwned"))
        #expect(try await stack.muster("down").status == 0)
    }
}
