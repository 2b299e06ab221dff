import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct SupervisorTests {
    @Test func dependencyOrderIsHonoured() async throws {
        let port = try PortPreflight.freePort(avoiding: [])
        let stack = try TestStack(
            """
            services:
              web:
                command: ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1"]
                ready: { http: "http://127.0.0.1:\(port)/" }
              init:
                command: "echo migrating; sleep 0.2; echo migrated"
              worker:
                command: "echo worker up; exec sleep 60"
                depends_on: { web: ready, init: completed }
                ready: { log: "worker up" }
            """)
        try await stack.start()
        let web = try #require(await stack.snapshot("web"))
        let initTask = try #require(await stack.snapshot("init"))
        let worker = try #require(await stack.snapshot("worker"))
        #expect(web.phase == .ready)
        #expect(initTask.phase == .completed)
        #expect(worker.phase == .ready)
        let dependenciesDone = max(try #require(web.readyAt), try #require(initTask.readyAt))
        let workerStart = try #require(worker.startedAt)
        #expect(workerStart >= dependenciesDone)
        // Logged, not asserted: how soon the dependent started after its last dependency.
        print(
            "dependent started \(String(format: "%.1f", (workerStart - dependenciesDone) * 1000)) ms after its dependencies were met"
        )
        await stack.finish()
    }

    @Test func crashBeforeReadyFailsAtOnceWithLogTail() async throws {
        let stack = try TestStack(
            """
            services:
              api:
                command: "echo booting; echo 'ModuleNotFoundError: No module named flask' >&2; exit 3"
                ready: { tcp: "127.0.0.1:1", start_timeout: 60s }
              after:
                command: "sleep 60"
                depends_on: { api: ready }
            """)
        let error = await stack.expectStartFailure()
        #expect(error?.message == "service api failed: exited with code 3 before it was ready")
        #expect(error?.details.contains { $0.contains("ModuleNotFoundError") } == true)
        #expect(error?.exitCode == 1)
        let after = await stack.snapshot("after")
        #expect(after?.wasEverStarted == false)
        await stack.finish()
    }

    @Test func onFailureRestartsWithBackoffUpToMax() async throws {
        let stack = try TestStack(
            """
            services:
              flaky:
                command: "echo attempt; exit 1"
                ready: { log: "never printed" }
                restart: on-failure
                max_restarts: 2
            """)
        await #expect(throws: MusterError.self) { try await stack.start() }
        let snapshot = try #require(await stack.snapshot("flaky"))
        #expect(snapshot.phase == .failed)
        #expect(snapshot.restarts == 2)
        #expect(snapshot.failure?.contains("restarted 2 times in a row") == true)
        let types = stack.events().filter { $0.service == "flaky" }.compactMap { $0.type.rawValue }
        #expect(types.filter { $0 == "restarted" }.count == 2)
        #expect(types.last == "failed")
        let log = try String(contentsOfFile: stack.paths.logFile(for: "flaky"), encoding: .utf8)
        #expect(log.components(separatedBy: "attempt").count - 1 == 3)
        await stack.finish()
    }

    @Test func serviceIgnoringSIGTERMIsKilledWithItsGrandchildren() async throws {
        let stack = try TestStack(
            """
            services:
              stubborn:
                command: "trap '' TERM; sleep 300 & echo $! > kids; sleep 300 & echo $! >> kids; echo started; wait"
                ready: { log: started }
                stop_timeout: 300ms
            """)
        try await stack.start()
        let kids = readPids(stack.directory + "/kids")
        #expect(kids.count == 2)
        #expect(kids.allSatisfy(ProcessTable.isAlive))
        let leader = try #require(await stack.snapshot("stubborn")?.pid)
        await stack.finish(keepFiles: true)
        defer { stack.cleanup() }
        #expect(!ProcessTable.isAlive(leader))
        #expect(!kids.contains(where: ProcessTable.isAlive))
        let stopped = stack.events().last { $0.service == "stubborn" }
        #expect(stopped?.type.rawValue == "stopped")
        #expect(stopped?.reason == "killed by SIGKILL")
    }

    @Test func chattyServiceNeverBlocksAndItsLogIsComplete() async throws {
        // ~200 MB of numbered lines as fast as seq can write them.
        let count = 25_000_000
        let stack = try TestStack(
            """
            services:
              chatty:
                command: ["seq", "1", "\(count)"]
                logs: { max_size: 64MB, max_files: 10 }  # rotates three times, keeps every byte
            """)
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        try await stack.start(console: Console(fd: devNull, interactive: false))
        let completed = await eventually(within: .seconds(120)) { await stack.snapshot("chatty")?.phase == .completed }
        #expect(completed)
        var expected = 0
        var width = 1, low = 1
        while low <= count {
            let high = min(count, low * 10 - 1)
            expected += (high - low + 1) * (width + 1)
            width += 1
            low *= 10
        }
        let logPath = stack.paths.logFile(for: "chatty")
        let files = LogFiles.all(logPath)
        let sizes = try files.map {
            (try FileManager.default.attributesOfItem(atPath: $0)[.size] as? NSNumber)?.intValue ?? 0
        }
        #expect(files.count == 4 && sizes.reduce(0, +) == expected, "\(sizes)")
        #expect(sizes.allSatisfy { $0 <= 64 << 20 + OutputPump.chunkSize }, "\(sizes)")
        let handle = try #require(FileHandle(forReadingAtPath: logPath))
        try handle.seek(toOffset: UInt64((sizes.last ?? 0) - 9))
        #expect(String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self) == "25000000\n")
        try handle.close()
        await stack.finish()
    }

    @Test func startTimeoutNamesTheProbe() async throws {
        let stack = try TestStack(
            """
            services:
              slow:
                command: "sleep 60"
                ready: { tcp: "127.0.0.1:1", start_timeout: 300ms, interval: 50ms }
            """)
        let error = await stack.expectStartFailure()
        #expect(error?.message.hasPrefix("service slow failed: not ready after 300ms (probe tcp 127.0.0.1:1: ") == true)
        await stack.finish()
    }

    @Test func notifyAndExecProbes() async throws {
        let stack = try TestStack(
            """
            services:
              notifier:
                command: ["python3", "-c", "import os,socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET']); time.sleep(60)"]
                ready: { notify: true }
              checked:
                command: "touch ok-flag; sleep 60"
                ready: { exec: "test -f ok-flag" }
                depends_on: [notifier]
            """)
        try await stack.start()
        #expect(await stack.snapshot("notifier")?.phase == .ready)
        #expect(await stack.snapshot("checked")?.phase == .ready)
        await stack.finish()
    }

    @Test func fixedPortInUseFailsBeforeStarting() async throws {
        let holder = try PortPreflight.freePort(avoiding: [])
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(holder).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        listen(listener, 1)
        defer { close(listener) }
        let stack = try TestStack(
            """
            services:
              web:
                command: "sleep 60"
                port: \(holder)
            """)
        let error = await stack.expectStartFailure()
        #expect(error?.code == .portInUse)
        #expect(error?.message.contains("port \(holder) is in use by pid \(getpid())") == true)
        await stack.finish()
    }

    @Test func outputsAndPortReachTheService() async throws {
        let stack = try TestStack(
            """
            env: { GREETING: hello }
            services:
              a:
                command: "sleep 60"
                port: auto
              b:
                command: "echo \\"$$GREETING a=${a.port} own=$$PORT\\" > seen; sleep 60"
                port: auto
                depends_on: { a: started }
                ready: { exec: "test -s seen" }
            """)
        try await stack.start()
        let ports = try #require(stack.session?.ports)
        let seen = try String(contentsOfFile: stack.directory + "/seen", encoding: .utf8)
        #expect(seen == "hello a=\(ports["a"]!) own=\(ports["b"]!)\n")
        await stack.finish()
    }
}
