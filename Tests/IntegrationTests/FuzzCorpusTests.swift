import Foundation
import Testing
@testable import MusterKit

/// Real bytes for the libFuzzer corpora (scripts/fuzz): the default stack's
/// Postgres, Redis, Tansu and HTTP API, started by muster, answer muster's own
/// clients through a `RecordingProxy`. The test checks that every client call
/// succeeded through the proxy and that the recorded answers decode; with
/// MUSTER_FUZZ_CAPTURE=1 it also (re)writes Tests/Fixtures/fuzz/TARGET/captured-*.
@Suite(.serialized) struct FuzzCorpusTests {
    static let corpusRoot = TestStack.repoRoot + "/Tests/Fixtures/fuzz"
    static var writing: Bool { ProcessInfo.processInfo.environment["MUSTER_FUZZ_CAPTURE"] == "1" }

    @Test func realServersAnswersDecodeAndSeedTheCorpora() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestStack.python), "run scripts/install-deps first")
        let stack = try TestStack.defaultStack()
        defer { stack.cleanup() }
        try await stack.start()
        let outputs = try #require(stack.session?.outputs)
        var corpus: [String: [String: [UInt8]]] = [:]

        // Postgres: a SCRAM login, rows with NULLs, an error, a notice.
        let postgres = try RecordingProxy(forwardingTo: try #require(outputs["db"]?["port"].flatMap { Int($0) }))
        do {
            let db = try PostgresConnection("host=127.0.0.1 port=\(postgres.port) user=app password=app dbname=app")
            #expect(try db.query("SELECT 1 AS one, NULL AS nothing, 'text' AS word, now()::text").first?.count == 4)
            #expect(throws: NetworkError.self) { try db.query("SELECT * FROM no_such_table") }
            try db.query("DO $$ BEGIN RAISE NOTICE 'seed %', 42; END $$; SELECT generate_series(1, 20)")
            db.close()
        }
        let pg = try #require(await postgres.exchanges(count: 1).first)
        let messages = try Self.postgresMessages(pg.received)
        #expect(
            messages.contains { $0.type == "D" } && messages.contains { $0.type == "E" }
                && messages.contains { $0.type == "N" })
        corpus["postgres", default: [:]]["captured-login-and-queries"] = pg.received
        // The SCRAM exchange: our nonce (from the client's first message), the server's two messages.
        let clientFirst = String(decoding: pg.sent, as: UTF8.self)
        // SCRAMClient's nonce is 18 random bytes in base64: 24 characters (the client's next message follows at once).
        let nonce = try #require(
            clientFirst.range(of: "n,,n=,r=").map { String(clientFirst[$0.upperBound...].prefix(24)) })
        let sasl = messages.filter { $0.type == "R" }.map { $0.body }.filter {
            $0.count > 4 && ($0[3] == 11 || $0[3] == 12)
        }
        try #require(sasl.count == 2, "the login went through SCRAM-SHA-256")
        let serverFirst = String(decoding: sasl[0].dropFirst(4), as: UTF8.self)
        let serverFinal = String(decoding: sasl[1].dropFirst(4), as: UTF8.self)
        let (_, signature) = try SCRAMClient(password: "app", clientNonce: nonce).clientFinal(serverFirst: serverFirst)
        #expect(serverFinal == "v=" + signature, "swift-crypto's SCRAM proof matches what Postgres computed")
        corpus["scram", default: [:]]["captured-postgres-login"] = Array(
            "\(nonce)\n\(serverFirst)\n\(serverFinal)".utf8)
        postgres.close()

        // Redis: simple, error, integer, bulk, nil and array replies.
        let redis = try RecordingProxy(forwardingTo: try #require(outputs["cache"]?["port"].flatMap { Int($0) }))
        do {
            let client = try RESPClient(host: "127.0.0.1", port: redis.port, timeout: .seconds(5))
            #expect(try client.command(["PING"]) == .simple("PONG"))
            _ = try client.command(["SET", "seed", "value"])
            #expect(try client.command(["GET", "seed"]) == .bulk("value"))
            #expect(try client.command(["GET", "missing"]) == .bulk(nil))
            #expect(try client.command(["INCR", "counter"]) == .integer(1))
            _ = try client.command(["RPUSH", "list", "a", "b", "c"])
            #expect(try client.command(["LRANGE", "list", "0", "-1"]) == .array([.bulk("a"), .bulk("b"), .bulk("c")]))
            if case .error = try client.command(["NOSUCHCOMMAND"]) {
            } else {
                Issue.record("redis accepted an unknown command")
            }
            guard case .bulk(let info?) = try client.command(["INFO", "server"]) else { throw NetworkError("no INFO") }
            #expect(RESPClient.infoField("redis_version", in: info) != nil)
        }
        let resp = try #require(await redis.exchanges(count: 1).first)
        var rest = resp.received
        while let (_, used) = try RESPDecoder.decode(rest) { rest.removeFirst(used) }
        #expect(rest.isEmpty, "every recorded reply decodes")
        corpus["resp", default: [:]]["captured-replies"] = resp.received
        redis.close()

        // Kafka: each API muster speaks, the consumer group of notifier included.
        let bus = try RecordingProxy(forwardingTo: try #require(outputs["bus"]?["port"].flatMap { Int($0) }))
        do {
            let client = try KafkaClient(host: "127.0.0.1", port: bus.port)
            _ = try client.apiVersions()
            #expect(try client.metadata(topics: ["notifications"]).topic("notifications")?.partitions.count == 3)
            _ = try client.metadata(topics: nil)
            _ = try client.createTopics([(name: "fuzz-seed", partitions: 2, replicationFactor: 1)])
            // Again: TOPIC_ALREADY_EXISTS.
            _ = try client.createTopics([(name: "fuzz-seed", partitions: 2, replicationFactor: 1)])
            _ = try client.findCoordinator(group: "notifier")
            _ = try client.describeGroupsOnThisBroker(["notifier", "no-such-group"])
            client.close()
        }
        let kafka = try #require(await bus.exchanges(count: 1).first)
        let requests = Self.kafkaFrames(kafka.sent), responses = Self.kafkaFrames(kafka.received)
        #expect(requests.count == 7 && responses.count == 7)
        for (index, (request, response)) in zip(requests, responses).enumerated() {
            let key = Int16(request[4]) << 8 | Int16(request[5]), version = Int16(request[6]) << 8 | Int16(request[7])
            let api = try #require(KafkaAPI(rawValue: key))
            let name =
                "kafka-"
                + api.name.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1-$2", options: .regularExpression)
                .lowercased()
            corpus[name, default: [:]]["captured-\(index)-v\(version)"] =
                [UInt8(version - api.implementedVersions.lowerBound)] + response
        }
        #expect(Set(corpus.keys.filter { $0.hasPrefix("kafka-") }).count == 5)
        bus.close()

        // HTTP: the API's health answer and a 404, as the probe reads them.
        let api = try RecordingProxy(forwardingTo: try #require(outputs["api"]?["port"].flatMap { Int($0) }))
        #expect(
            await HTTPProbe(url: "http://127.0.0.1:\(api.port)/healthz", timeout: .seconds(5), identityField: "pid")
                .check().passed)
        #expect(
            await HTTPProbe(url: "http://127.0.0.1:\(api.port)/no-such-page", timeout: .seconds(5)).check().passed
                == false)
        for (index, exchange) in await api.exchanges(count: 2).enumerated() {
            #expect(String(decoding: exchange.received.prefix(5), as: UTF8.self) == "HTTP/")
            corpus["http", default: [:]]["captured-\(index)"] = exchange.received
        }
        api.close()

        await stack.finish(keepFiles: true)
        // events.jsonl as muster wrote it for this run, every line parsed back.
        let events = try String(contentsOfFile: stack.paths.eventsFile, encoding: .utf8)
        #expect(events.split(separator: "\n").allSatisfy { ServiceEvent.parse(String($0)) != nil })
        corpus["events", default: [:]]["captured-default-stack"] = Array(events.utf8)
        // Stack files: the shipped ones and the valid fixtures.
        for folder in [TestStack.repoRoot + "/stacks", TestStack.repoRoot + "/Tests/Fixtures/valid"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where name.hasSuffix(".yaml") {
                corpus["stack", default: [:]]["captured-\(name)"] = Array(
                    try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            }
        }
        if Self.writing {
            for (target, files) in corpus {
                let folder = Self.corpusRoot + "/" + target
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name)) }
            }
        }
    }

    /// The control API's requests as muster's own clients send them: the supervisor
    /// records each one (MUSTER_CONTROL_RECORD) while the CLI drives a stack, and each
    /// recorded request reads back as the route it was meant for.
    @Test func controlRequestsOfMustersOwnClientsSeedTheCorpus() async throws {
        let stack = try TestStack(
            """
            services:
              db: { engine: postgres, port: auto, databases: [shop] }
              web: { command: "echo ready; exec sleep 600", ready: { log: ready } }
            """)
        defer { stack.cleanup() }
        let record = stack.directory + "/control-requests"
        try FileManager.default.createDirectory(atPath: record, withIntermediateDirectories: true)
        func muster(_ arguments: String...) async throws -> CLIResult {
            try await CLIResult.run(
                command: [TestStack.binary] + arguments, in: stack.directory,
                environment: ["MUSTER_CONTROL_RECORD": record])
        }
        #expect(try await muster("up", "-d").status == 0)
        for command in [
            ["ps", "--json"], ["env"], ["logs", "web", "--tail", "5"], ["logs"], ["events", "--json"],
            ["restart", "web"], ["stop", "web"], ["start", "web"], ["db", "snapshot", "db"], ["db", "list", "db"],
            ["db", "restore", "db"], ["db", "clone", "db", "--count", "2"],
        ] {
            let result = try await CLIResult.run(command: [TestStack.binary] + command, in: stack.directory)
            #expect(result.status == 0, "muster \(command.joined(separator: " ")): \(result.output)")
        }
        // What the pytest plugin asks, and requests the server refuses.
        let client = try #require(ControlClient.connect(stack.paths))
        #expect(
            try client.request("GET", "/v1/disruptions?from=2026-12-03T08:00:01.123456Z&to=2099-01-01T00:00:00Z").status
                == 200)
        #expect(try client.request("GET", "/v1/logs?service=web&tail=abc").status == 400)
        #expect(try client.request("GET", "/v1/events?since=-1").status == 400)
        #expect(
            try client.request("POST", "/v1/restart", body: Data("{\"services\":[\"web\"],\"timeout_ms\":-5}".utf8))
                .status == 400)
        #expect(
            try client.request("POST", "/v1/db/clone", body: Data("{\"service\":\"db\",\"count\":1000}".utf8)).status
                == 400)
        #expect(try await muster("down").status == 0)

        var corpus: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: record).sorted() {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: record + "/" + name)))
            let input = try #require(ControlRequests.parseFuzzInput(bytes), "a recorded request reads back")
            let route = ControlRequests.route(
                method: input.method, path: input.path, query: input.query, body: input.body)
            let key = "\(input.method)-\(input.path.dropFirst(4).replacingOccurrences(of: "/", with: "-"))"
            corpus["captured-\(key)-\(corpus.keys.filter { $0.hasPrefix("captured-\(key)-") }.count)"] = bytes
            if case let .failure(error) = route {
                #expect(
                    ["tail=", "since=", "timeout_ms", "count"].contains { error.headline.contains($0) },
                    "only the refused requests fail: \(error.headline)")
            }
        }
        let paths = Set(corpus.keys.map { $0.split(separator: "-").dropFirst().dropLast().joined(separator: "-") })
        for expected in [
            "GET-status", "GET-logs", "GET-events", "POST-restart", "POST-stop", "POST-start", "POST-db-snapshot",
            "GET-db-snapshots", "POST-db-restore", "POST-db-clone", "GET-disruptions", "POST-shutdown",
        ] {
            #expect(paths.contains(expected), "\(expected) was recorded: \(paths.sorted())")
        }
        if Self.writing {
            let folder = Self.corpusRoot + "/control"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, bytes) in corpus { try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name)) }
        }
    }

    /// Backend messages split by their headers (the production check of each header).
    static func postgresMessages(_ bytes: [UInt8]) throws -> [(type: Character, body: [UInt8])] {
        var messages: [(type: Character, body: [UInt8])] = []
        var offset = 0
        while bytes.count - offset >= 5 {
            let (type, length) = try PostgresConnection.Message.header(Array(bytes[offset..<(offset + 5)]))
            messages.append((type, Array(bytes[(offset + 5)..<(offset + 1 + length)])))
            offset += 1 + length
        }
        return messages
    }

    /// Size-prefixed Kafka frames, each with its prefix.
    static func kafkaFrames(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var offset = 0
        while bytes.count - offset >= 4 {
            let size =
                Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
                | Int(bytes[offset + 3])
            guard bytes.count - offset >= 4 + size else { break }
            frames.append(Array(bytes[offset..<(offset + 4 + size)]))
            offset += 4 + size
        }
        return frames
    }
}
