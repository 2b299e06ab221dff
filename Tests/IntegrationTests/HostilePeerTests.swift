import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A wrong or hostile program on a service's port (Tests/Fixtures/hostile/hostile_peer.py,
/// started by muster in place of the real server): it answers garbage, half a message
/// and then stalls, a header announcing an enormous length, or closes at once. For each
/// protocol probe the start fails (exit 1) with a reason that names the protocol and
/// what was wrong, the same reason reaches the event log, and nothing is left running.
/// The start timeout (10 s) leaves a loaded machine time to start python; the cases run
/// side by side, so the suite takes about one timeout, not sixteen.
@Suite struct HostilePeerTests {
    enum Mode: String, CaseIterable { case garbage, half, huge, close }
    static let protocols = ["redis", "postgres", "kafka", "http"]

    /// The system python: when muster runs as root, Postgres (here: its stand-in)
    /// runs as the postgres user, who cannot enter /root.
    static let python =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : TestStack.python

    /// A folder of stand-in server programs that all start the hostile peer.
    final class HostileBin {
        let path = NSTemporaryDirectory() + "muster-hostile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var script: String { path + "/hostile_peer.py" }

        init(protocolName: String, mode: String) throws {
            let fm = FileManager.default
            try fm.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            try fm.copyItem(atPath: TestStack.repoRoot + "/Tests/Fixtures/hostile/hostile_peer.py", toPath: script)
            let peer = "#!/bin/sh\nexec \(HostilePeerTests.python) \(script) \(protocolName) \(mode) \"$@\"\n"
            // initdb's stand-in makes only what muster checks for an existing cluster.
            let initdb =
                "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -D ] && mkdir -p \"$2/global\" && touch \"$2/global/pg_control\"; shift; done\n"
            for (name, text) in [("redis-server", peer), ("postgres", peer), ("tansu", peer), ("initdb", initdb)] {
                try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
                chmod(path + "/" + name, 0o755)
            }
            chmod(script, 0o644)
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// Processes still running one of these programs.
        var survivors: [Int32] {
            ProcessTable.allPids().filter { (ProcessTable.commandLine($0) ?? "").contains(path) }
        }
    }

    static func service(_ protocolName: String, bin: HostileBin, mode: String) -> String {
        let timing = "timeout: 500ms, start_timeout: 10s"
        switch protocolName {
        case "redis":
            return "  peer: { engine: redis, bin: \(bin.path), ready: { redis: {}, \(timing) } }\n"
        case "postgres":
            return "  peer: { engine: postgres, bin: \(bin.path), ready: { postgres: {}, \(timing) } }\n"
        case "kafka":
            return
                "  peer: { engine: kafka, implementation: tansu, env: { MUSTER_TANSU: \(bin.path)/tansu }, ready: { kafka: {}, \(timing) } }\n"
        default:
            return "  peer:\n    command: [\(python), \(bin.script), http, \(mode)]\n    port: auto\n"
                + "    ready: { http: \"http://127.0.0.1:${peer.port}/health\", \(timing) }\n"
        }
    }

    /// What the reason must say, per protocol and peer.
    static func expected(_ protocolName: String, _ mode: Mode) -> [String] {
        switch (protocolName, mode) {
        case ("redis", .garbage): return ["redis: not a RESP reply: got \"HTTP/1.1 400 Bad Request\""]
        case ("redis", .half): return ["redis: reply cut short after 8 bytes (got \"$10\\r\\nhel\")"]
        case ("redis", .huge): return ["redis: bulk string of 99999999999 bytes", "above the 8 MiB muster accepts"]
        case ("redis", .close): return ["redis: "]
        case ("postgres", .garbage):
            return ["postgres: 'H' message of 1414811695 bytes, above the 8 MiB muster accepts"]
        case ("postgres", .half): return ["postgres: 'R' message of 8 bytes cut short", "(1 of 4 bytes arrived)"]
        case ("postgres", .huge): return ["postgres: 'R' message of 2147483632 bytes, above the 8 MiB muster accepts"]
        case ("postgres", .close): return ["postgres", "socket"]
        case ("kafka", .garbage):
            return ["kafka: ApiVersions v2 response: response size 1213486160 (bytes \"HTTP\") is above the 8 MiB"]
        case ("kafka", .half): return ["kafka: ApiVersions v2 response: timed out", "(2 of 32 bytes arrived)"]
        case ("kafka", .huge): return ["kafka: ApiVersions v2 response: response size 2147483647"]
        case ("kafka", .close): return ["kafka: ApiVersions v2 re"]
        case ("http", .garbage):
            return ["http: GET http://127.0.0.1:", "not an HTTP response (got \"SSH-2.0-OpenSSH_9.2\\r\\n\")"]
        case ("http", .half): return ["http: GET http://127.0.0.1:", "11 bytes and no complete status line"]
        case ("http", .huge): return ["http: GET http://127.0.0.1:", "no status line within 64 KiB"]
        default: return ["http: GET http://127.0.0.1:"]
        }
    }

    @Test(arguments: protocols, Mode.allCases)
    func aFailedStartNamesWhatThePeerDidWrong(_ protocolName: String, _ mode: Mode) async throws {
        let bin = try HostileBin(protocolName: protocolName, mode: mode.rawValue)
        let stack = try TestStack(
            "services:\n" + Self.service(protocolName, bin: bin, mode: mode.rawValue),
            name: "hostile\(protocolName)\(mode.rawValue)")
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        #expect(up.status == 1, "\(up.output)")
        let failed = stack.events().first { $0.type.rawValue == "failed" }
        let reason = failed?.reason ?? ""
        #expect(reason.hasPrefix("not ready after 10s (probe "), "\(reason)")
        for text in Self.expected(protocolName, mode) {
            #expect(up.output.contains(text), "\(protocolName) \(mode): \(text) not in: \(up.output)")
            #expect(reason.contains(text), "\(protocolName) \(mode): \(text) not in the failed event: \(reason)")
        }
        if mode == .close {
            #expect(reason.contains("closed") || reason.contains("reset"), "\(reason)")
        }
        #expect(ControlClient.connect(stack.paths) == nil)
        #expect(await eventually(within: .seconds(30)) { bin.survivors.isEmpty }, "left running: \(bin.survivors)")
    }

    /// A program on a Redis port that ignores SHUTDOWN: the stop signal follows the
    /// command at once, and the stop timeout (10 s, the default) is not waited out.
    @Test func aServerThatIgnoresTheStopCommandGetsTheStopSignalAtOnce() async throws {
        let bin = try HostileBin(protocolName: "redis", mode: "silent")
        let stack = try TestStack(
            """
            services:
              cache: { engine: redis, bin: \(bin.path), ready: { redis: {}, timeout: 500ms, start_timeout: 10s } }
            """)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        #expect(up.status == 1, "\(up.output)")
        #expect(up.output.contains("not ready after 10s (probe redis: redis: no reply: timed out"), "\(up.output)")
        let warnings = stack.events().filter { $0.type.rawValue == "warning" }.compactMap { $0.reason }
        #expect(warnings.contains("SHUTDOWN brought no exit within 1s; sent SIGTERM"), "\(warnings)")
        #expect(!warnings.contains { $0.contains("SIGKILL") }, "\(warnings)")
        let log = try String(contentsOfFile: stack.paths.logFile(for: "cache"), encoding: .utf8)
        #expect(log.contains("hostile redis: got SIGTERM"), "\(log)")
        #expect(bin.survivors.isEmpty)
    }

    /// The real Redis obeys SHUTDOWN: no stop signal, no warning.
    @Test func aRealRedisStopsOnShutdownAlone() async throws {
        let stack = try TestStack(
            """
            services:
              cache: { engine: redis, port: auto }
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        #expect(try await stack.muster("down").status == 0)
        #expect(!stack.events().contains { $0.type.rawValue == "warning" }, "\(stack.events())")
        let log = try String(contentsOfFile: stack.paths.logFile(for: "cache"), encoding: .utf8)
        #expect(log.contains("User requested shutdown") && !log.contains("Received SIG"), "\(log)")
    }
}
