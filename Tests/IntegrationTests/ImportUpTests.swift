import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A compose file imported by the real binary starts with `muster up -d`: Postgres
/// runs with the compose file's `-c` flags, Redis with its flags, Kafka with its
/// topic; `down` leaves nothing.
@Suite(.serialized) struct ImportUpTests {
    static func muster(_ arguments: String..., in directory: String) async throws -> CLIResult {
        try await CLIResult.run(arguments, in: directory)
    }

    @Test func importedComposeStackStarts() async throws {
        let environment = ProcessInfo.processInfo.environment
        try #require(
            environment["MUSTER_TANSU"] != nil || environment["KAFKA_HOME"] != nil,
            "source scripts/lib/python-env.sh && muster_python_env first (exports MUSTER_TANSU)")
        // The folder names the project (the compose file has no name:), so runs never collide.
        let directory = NSTemporaryDirectory() + "muster-tests/t-importup-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fixture = TestStack.repoRoot + "/Tests/Fixtures/interop/up/docker-compose.yml"
        try FileManager.default.copyItem(atPath: fixture, toPath: directory + "/docker-compose.yml")

        let imported = try await Self.muster("import", "docker-compose.yml", in: directory)
        #expect(imported.status == 0, "import failed: \(imported.output)")
        #expect(
            imported.output.contains(
                "wrote muster.yaml: 3 services to run (db, cache, bus), 1 placeholder to complete (web)"),
            "\(imported.output)")
        let again = try await Self.muster("import", "docker-compose.yml", in: directory)
        #expect(again.status == 2)
        #expect(again.output.split(separator: "\n").count == 1, "one clear line: \(again.output)")
        let check = try await Self.muster("check", in: directory)
        #expect(check.status == 0, "\(check.output)")

        let up = try await Self.muster("up", "-d", "--timeout", "120s", in: directory)
        var report: StatusReport?
        do {
            try #require(up.status == 0, "up -d failed: \(up.output)")
            let ps = try await Self.muster("ps", "--json", in: directory)
            report = try ControlJSON.decode(StatusReport.self, from: Data(ps.output.utf8))
            #expect(report?.services.map(\.name) == ["db", "cache", "bus"])
            #expect(report?.services.allSatisfy(\.ready) == true, "\(ps.output)")

            let env = try await Self.muster("env", "--format", "json", in: directory)
            let variables = try JSONDecoder().decode([String: String].self, from: Data(env.output.utf8))
            let db = try PostgresConnection(
                "host=127.0.0.1 port=\(variables["DB_PORT"] ?? "0") user=shop password=shop dbname=shop")
            #expect(try db.value("SHOW max_connections") == "200")
            #expect(
                try db.value("SHOW statement_timeout") == "42s", "every -c flag of the compose command is a setting")
            let cache = try RESPClient(
                host: "127.0.0.1", port: Int(variables["CACHE_PORT"] ?? "0") ?? 0, timeout: .seconds(2))
            #expect(
                try cache.command(["CONFIG", "GET", "maxmemory"]) == .array([.bulk("maxmemory"), .bulk("33554432")]))
            #expect(variables["BUS_BOOTSTRAP"]?.hasPrefix("127.0.0.1:") == true)
        } catch is ExpectationFailedError {
            // Already recorded by #require.
        } catch {
            Issue.record(error)
        }

        // Always down, then nothing of the stack is left.
        let down = try await Self.muster("down", in: directory)
        #expect(down.status == 0, "down failed: \(down.output)")
        Self.expectNothingLeft(report)
    }

    /// No process of the stack's groups and no port of its services is left.
    static func expectNothingLeft(_ report: StatusReport?) {
        for group in report?.groups ?? [] {
            #expect(ProcessTable.members(ofGroup: group).isEmpty, "group \(group) still has processes")
        }
        for port in report?.services.flatMap(\.ports) ?? [] {
            #expect(
                (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(300))) == nil,
                "port \(port) still accepts connections")
        }
    }

    /// A fresh project folder under the test temp dir (its name is the project's).
    static func projectFolder(_ kind: String) throws -> String {
        let directory = NSTemporaryDirectory() + "muster-tests/t-\(kind)-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `up -d`, every service ready in `ps --json`, the caller's checks, then `down`
    /// and nothing of the stack left: no process of its groups, no port answering.
    static func upCheckDown(
        in directory: String, services: [String],
        checks: ([String: String]) async throws -> Void
    ) async throws {
        let up = try await muster("up", "-d", "--timeout", "120s", in: directory)
        var report: StatusReport?
        do {
            try #require(up.status == 0, "up -d failed: \(up.output)")
            let ps = try await muster("ps", "--json", in: directory)
            report = try ControlJSON.decode(StatusReport.self, from: Data(ps.output.utf8))
            #expect(report?.services.map(\.name) == services)
            #expect(report?.services.allSatisfy(\.ready) == true, "\(ps.output)")
            let env = try await muster("env", "--format", "json", in: directory)
            try await checks(try JSONDecoder().decode([String: String].self, from: Data(env.output.utf8)))
        } catch is ExpectationFailedError {
            // Already recorded by #require.
        } catch {
            Issue.record(error)
        }
        let down = try await muster("down", in: directory)
        #expect(down.status == 0, "down failed: \(down.output)")
        expectNothingLeft(report)
    }

    /// A process-compose file that runs Postgres and Redis by hand, and an app with
    /// an http readiness probe: the servers become engines with the file's flags.
    @Test func importedProcessComposeStackStarts() async throws {
        let directory = try Self.projectFolder("pcimport")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fixture = TestStack.repoRoot + "/Tests/Fixtures/interop/process-compose/up/process-compose.yaml"
        let appPort = try PortPreflight.freePort(avoiding: [])
        let text = try String(contentsOfFile: fixture, encoding: .utf8).replacingOccurrences(
            of: "18431", with: String(appPort))
        try text.write(toFile: directory + "/process-compose.yaml", atomically: true, encoding: .utf8)

        let imported = try await Self.muster("import", "process-compose.yaml", in: directory)
        #expect(imported.status == 0, "import failed: \(imported.output)")
        #expect(
            imported.output.contains("wrote muster.yaml: 4 services to run (pg, kv, migrate, app)"),
            "\(imported.output)")
        #expect(
            try String(contentsOfFile: directory + "/muster.yaml", encoding: .utf8).contains("task: true"),
            "the one-shot is a task")
        let check = try await Self.muster("check", in: directory)
        #expect(check.status == 0, "\(check.output)")
        // A file that is not YAML: one line with its place, exit 2, nothing written.
        try "processes:\n  web:\n    command: [\"unclosed\n".write(
            toFile: directory + "/broken.yaml", atomically: true, encoding: .utf8)
        let broken = try await Self.muster("import", "broken.yaml", "-o", "broken-out.yaml", in: directory)
        #expect(broken.status == 2 && broken.output.split(separator: "\n").count == 1, "\(broken.output)")
        #expect(broken.output.contains("broken.yaml:3:"), "\(broken.output)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/broken-out.yaml"))

        try await Self.upCheckDown(in: directory, services: ["pg", "kv", "migrate", "app"]) { variables in
            #expect(FileManager.default.fileExists(atPath: directory + "/migrated.txt"), "up -d waited for the task")
            let db = try PostgresConnection(
                "host=127.0.0.1 port=\(variables["PG_PORT"] ?? "0") user=\(variables["PG_USER"] ?? "") dbname=\(variables["PG_DATABASE"] ?? "")"
            )
            #expect(try db.value("SHOW max_connections") == "300", "the command's -c flags are the engine's settings")
            #expect(try db.value("SHOW statement_timeout") == "42s")
            let cache = try RESPClient(
                host: "127.0.0.1", port: Int(variables["KV_PORT"] ?? "0") ?? 0, timeout: .seconds(2))
            #expect(
                try cache.command(["CONFIG", "GET", "maxmemory"]) == .array([.bulk("maxmemory"), .bulk("33554432")]))
            #expect(
                (try? TCPConnection(host: "127.0.0.1", port: appPort, timeout: .seconds(1))) != nil,
                "the app serves on its port")
        }
    }

    /// A compose project split with include: (Postgres in one file, Redis in another,
    /// each with its own env file) imports into one stack that starts.
    @Test func importedIncludeSplitComposeStarts() async throws {
        let directory = try Self.projectFolder("includeup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fixture = TestStack.repoRoot + "/Tests/Fixtures/interop/include-up"
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture) {
            try FileManager.default.copyItem(atPath: fixture + "/" + name, toPath: directory + "/" + name)
        }
        let imported = try await Self.muster("import", "compose.yaml", in: directory)
        #expect(imported.status == 0, "import failed: \(imported.output)")
        #expect(imported.output.contains("wrote muster.yaml: 2 services to run (db, cache)"), "\(imported.output)")
        let check = try await Self.muster("check", in: directory)
        #expect(check.status == 0, "\(check.output)")

        try await Self.upCheckDown(in: directory, services: ["db", "cache"]) { variables in
            let db = try PostgresConnection(
                "host=127.0.0.1 port=\(variables["DB_PORT"] ?? "0") user=shop password=shop dbname=shop")
            #expect(try db.value("SHOW max_connections") == "120", "postgres/.env filled postgres/compose.yaml")
            let cache = try RESPClient(
                host: "127.0.0.1", port: Int(variables["CACHE_PORT"] ?? "0") ?? 0, timeout: .seconds(2))
            #expect(
                try cache.command(["CONFIG", "GET", "maxmemory"]) == .array([.bulk("maxmemory"), .bulk("25165824")]),
                "the include entry's env_file filled redis/compose.yaml")
        }
    }

    /// What an imported Valkey service relies on: `bin:` may name the server program
    /// itself (valkey-server where installed); here the installed redis-server.
    @Test func redisEngineRunsTheServerThatBinNames() async throws {
        let server = try #require(
            ProgramLocator.find("redis-server", workingDir: "/", path: "/usr/local/bin:/usr/bin:/bin:/usr/sbin"),
            "redis-server is installed by scripts/install-deps")
        let directory = try Self.projectFolder("redisbin")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "services:\n  sessions:\n    engine: redis\n    bin: \(server)\n".write(
            toFile: directory + "/muster.yaml", atomically: true, encoding: .utf8)
        try await Self.upCheckDown(in: directory, services: ["sessions"]) { variables in
            let cache = try RESPClient(
                host: "127.0.0.1", port: Int(variables["SESSIONS_PORT"] ?? "0") ?? 0, timeout: .seconds(2))
            #expect(try cache.command(["PING"]) == .simple("PONG"))
        }
    }
}
