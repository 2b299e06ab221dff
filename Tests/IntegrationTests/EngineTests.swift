import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The real servers, started by muster on `port: auto`.
@Suite(.serialized) struct EngineTests {
    static var python: String { TestStack.python }

    func defaultStack(name: String = #function) throws -> TestStack { try TestStack.defaultStack(name: name) }

    @Test func defaultStackEndToEnd() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "run scripts/install-deps first")
        let stack = try defaultStack()
        try await stack.start()
        let session = try #require(stack.session)
        let db = try #require(session.outputs["db"])
        let port = try #require(db["port"])

        // max_connections is 200 and 150 clients can connect at once.
        let conninfo = "host=127.0.0.1 port=\(port) user=app password=app dbname=app"
        let admin = try PostgresConnection(conninfo)
        #expect(try admin.value("SHOW max_connections") == "200")
        let connected = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<150 {
                group.addTask { await offload { (try? PostgresConnection(conninfo)).map { _ in true } ?? false } }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(connected == 150)

        // The declared databases and role exist; migrate ran before api started.
        #expect(try admin.value("SELECT count(*) FROM pg_database WHERE datname IN ('app', 'app_test')") == "2")
        #expect(try admin.value("SELECT to_regclass('public.users') IS NOT NULL") == "t")
        let migrate = try #require(await stack.snapshot("migrate"))
        let api = try #require(await stack.snapshot("api"))
        #expect(migrate.phase == .completed)
        #expect(try #require(api.startedAt) >= (try #require(migrate.readyAt)))
        try admin.query("INSERT INTO users(name) VALUES ('kept across restarts')")

        // The topic has 3 partitions, each with a leader.
        let bus = try #require(session.outputs["bus"]?["port"].flatMap { Int($0) })
        let metadata = try KafkaClient(host: "127.0.0.1", port: bus).metadata(topics: ["notifications"])
        #expect(metadata.topic("notifications")?.partitions.count == 3)
        #expect(metadata.topic("notifications")?.partitions.allSatisfy { $0.leaderId >= 0 } == true)

        // A message produced to notifications reaches a Redis subscriber through notifier.
        let redisPort = try #require(session.outputs["cache"]?["port"].flatMap { Int($0) })
        let subscriber = try RESPClient(host: "127.0.0.1", port: redisPort, timeout: .seconds(15))
        _ = try subscriber.command(["SUBSCRIBE", "ws:42"])
        let produce = """
            from confluent_kafka import Producer
            p = Producer({"bootstrap.servers": "127.0.0.1:\(bus)"})
            p.produce("notifications", b'{"user_id": 42, "body": "hello"}')
            p.flush(10)
            """
        let producer = try await ProcessSpawner.shared.spawn(
            SpawnRequest(
                executable: Self.python, arguments: [Self.python, "-c", produce],
                environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }))
        #expect(await ProcessReaper.shared.exitStatus(of: producer) == .exited(0))
        ProcessReaper.shared.forget(producer)
        let reader = Handed(subscriber)
        let message = await offload { try? reader.value.readReply() }
        guard case let .array(parts)? = message else {
            Issue.record("no message reached ws:42: \(String(describing: message))"); await stack.finish(); return
        }
        #expect(parts.first == .bulk("message"))
        #expect(parts.last == .bulk("{\"user_id\": 42, \"body\": \"hello\"}"))
        await stack.finish(keepFiles: true)
        defer { stack.cleanup() }

        // A second start reuses the data: the row written before is still there.
        try await stack.start(["db"])
        let secondPort = try #require(stack.session?.outputs["db"]?["port"])
        let again = try PostgresConnection("host=127.0.0.1 port=\(secondPort) user=app password=app dbname=app")
        #expect(try again.value("SELECT count(*) FROM users WHERE name = 'kept across restarts'") == "1")
        await stack.finish(keepFiles: true)
    }

    @Test func listeningIsNotReady() async throws {
        // A port that accepts TCP but speaks no Postgres or Redis is not ready.
        let stack = try TestStack(
            """
            services:
              db:
                engine: postgres
            """)
        let spec = try stack.load()
        let planner = StackPlanner(stack: spec, paths: stack.paths)
        let listener = try PortPreflight.freePort(avoiding: [])
        let server = try await ProcessSpawner.shared.spawn(
            SpawnRequest(
                executable: "/usr/bin/env",
                arguments: [
                    "/usr/bin/env", "python3", "-c",
                    "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', \(listener))); s.listen(); time.sleep(30)",
                ],
                environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }))
        defer {
            kill(server, SIGKILL);
            Task {
                _ = await ProcessReaper.shared.exitStatus(of: server); ProcessReaper.shared.forget(server)
            }
        }
        _ = await eventually { !PortPreflight.isFree(listener) }
        let plans = try planner.plans(for: ["db"], ports: ["db": listener])
        guard case let .polling(probe, _)? = plans.first?.ready else { Issue.record("no polling probe"); return }
        #expect(await probe.check().passed == false)
        #expect(await RedisProbe(port: listener, password: nil, timeout: .milliseconds(300)).check().passed == false)
        #expect(await KafkaBrokerProbe(port: listener, topics: [], timeout: .milliseconds(300)).check().passed == false)
        stack.cleanup()
    }
}
