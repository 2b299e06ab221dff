import Testing
@testable import MusterKit

/// Apache Kafka cannot be installed on this project's machines, so its KRaft
/// configuration is checked here, as text.
@Suite struct KafkaConfigTests {
    @Test func singleNodeKRaftConfig() {
        let config = ApacheKafkaConfig(
            port: 9092, controllerPort: 9093, logDir: "/data/logs",
            settings: [(key: "num.partitions", value: "3"), (key: "log.retention.hours", value: "1")])
        let lines = Set(config.render().split(separator: "\n").map(String.init))
        #expect(lines.contains("process.roles=broker,controller"))
        #expect(lines.contains("controller.quorum.voters=1@127.0.0.1:9093"))
        #expect(lines.contains("listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"))
        #expect(lines.contains("advertised.listeners=PLAINTEXT://127.0.0.1:9092"))
        #expect(lines.contains("log.dirs=/data/logs"))
        #expect(lines.contains("offsets.topic.replication.factor=1"))
        #expect(lines.contains("num.partitions=3"))
        #expect(!lines.contains("num.partitions=1"))
        #expect(lines.contains("log.retention.hours=1"))
    }

    @Test func clusterIdLooksLikeKafkas() {
        let id = ApacheKafkaConfig.clusterIdentifier()
        #expect(id.count == 22)
        #expect(id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(id != ApacheKafkaConfig.clusterIdentifier())
    }

    @Test func autoPicksApacheFromKafkaHome() throws {
        let home = NSTemporaryDirectory() + "fake-kafka-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: home + "/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        _ = FileManager.default.createFile(
            atPath: home + "/bin/kafka-server-start.sh", contents: Data("#!/bin/sh\n".utf8),
            attributes: [.posixPermissions: 0o755])
        let chosen = try KafkaServers.choose(
            EngineOptions(kind: .kafka), environment: ["KAFKA_HOME": home, "PATH": "/nonexistent"],
            stackDirectory: "/nonexistent")
        #expect(chosen == .apache(home: home))
    }
}

import Foundation
