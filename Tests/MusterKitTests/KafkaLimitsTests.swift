import Foundation
import Testing
@testable import MusterKit

/// What the Kafka engine says about the broker that will run: the restart that loses
/// its messages (on the plan, for the events) and the limits `doctor` names. Fake
/// brokers (one-line shell scripts) stand in: only which one is found matters here.
@Suite struct KafkaLimitsTests {
    /// A folder with a `tansu` or Apache `bin/kafka-server-start.sh` that prints a version
    /// (not asserted: a fork in a parallel test may briefly hold the new script open for
    /// writing, and its exec then fails with ETXTBSY).
    final class FakeBroker {
        let folder = NSTemporaryDirectory() + "fake-broker-\(UInt32.random(in: 0...UInt32.max))"

        init(_ program: String, version: String) throws {
            let path = folder + "/" + program
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            _ = FileManager.default.createFile(
                atPath: path, contents: Data("#!/bin/sh\necho '\(version)'\n".utf8),
                attributes: [.posixPermissions: 0o755])
        }

        deinit { try? FileManager.default.removeItem(atPath: folder) }
    }

    static let stackText = "services:\n  bus: { engine: kafka, port: auto }\n"

    func stack(in folder: String, environment: [String: String]) throws -> StackSpec {
        try StackLoader.parse(
            yaml: Self.stackText, file: folder + "/muster.yaml", directory: folder, environment: environment)
    }

    func busPlan(environment: [String: String], folder: String) throws -> ServicePlan {
        let stack = try stack(in: folder, environment: environment)
        let planner = StackPlanner(
            stack: stack, paths: ProjectPaths(directory: folder, project: "limits"), environment: environment)
        return try #require(try planner.plans(for: ["bus"], ports: ["bus": 19092]).first)
    }

    @Test func tansuPlanSaysARestartLosesEveryMessage() throws {
        let tansu = try FakeBroker("tansu", version: "tansu 0.6.0")
        let environment = ["MUSTER_TANSU": tansu.folder + "/tansu", "PATH": "/nonexistent"]
        let plan = try busPlan(environment: environment, folder: tansu.folder)
        #expect(plan.kind == .kafka(.tansu))
        #expect(
            plan.restartReason("restart requested")
                == "restart requested; the broker keeps messages in memory: every message is gone")
        #expect(plan.restartReason(nil) == "the broker keeps messages in memory: every message is gone")
    }

    @Test func apachePlanLosesNothingOnRestart() throws {
        let apache = try FakeBroker("bin/kafka-server-start.sh", version: "3.9.0")
        let environment = ["KAFKA_HOME": apache.folder, "PATH": "/nonexistent"]
        let plan = try busPlan(environment: environment, folder: apache.folder)
        #expect(plan.kind == .kafka(.apache))
        #expect(plan.lostOnRestart == nil)
        #expect(plan.restartReason("restart requested") == "restart requested")
    }

    @Test func doctorNamesTansuAndEachLimitWithItsFigureAndWorkaround() throws {
        let tansu = try FakeBroker("tansu", version: "tansu 0.6.0")
        let environment = ["MUSTER_TANSU": tansu.folder + "/tansu", "PATH": "/nonexistent"]
        let report = DoctorReport(
            stack: try stack(in: tansu.folder, environment: environment), paths: nil, environment: environment)
        let kafka = try #require(report.engines.first { $0.engine == "kafka" })
        #expect(kafka.implementation == "tansu")
        #expect(kafka.note == nil)
        let limits = try #require(kafka.limits)
        #expect(limits.allSatisfy { !$0.limit.isEmpty && !$0.measured.isEmpty && !$0.workaround.isEmpty })
        let text = limits.map { "\($0.limit) \($0.measured) \($0.workaround)" }.joined(separator: "\n")
        for fact in [
            "session.timeout.ms / 2", "23 s", "3 s at 6000", "session.timeout.ms=6000", "restart loses",
            "aiokafka's idempotent producer", "enable_idempotence=False", "read_committed", "end offset",
        ] {
            #expect(text.contains(fact), "doctor's limits should say \(fact): \(text)")
        }
        // Postgres and Redis carry no implementation.
        let json = String(decoding: ControlJSON.encode(report), as: UTF8.self)
        #expect(json.contains("\"implementation\":\"tansu\""), "\(json)")
        let decoded = try ControlJSON.decode(DoctorReport.self, from: Data(json.utf8))
        #expect(decoded.engines.first { $0.engine == "kafka" }?.limits == limits)
    }

    @Test func doctorSaysApacheAndRedpandaAreUntestedHere() throws {
        let apache = try FakeBroker("bin/kafka-server-start.sh", version: "3.9.0")
        let environment = ["KAFKA_HOME": apache.folder, "PATH": "/nonexistent"]
        let report = DoctorReport(
            stack: try stack(in: apache.folder, environment: environment), paths: nil, environment: environment)
        let kafka = try #require(report.engines.first { $0.engine == "kafka" })
        #expect(kafka.implementation == "apache")
        #expect(kafka.limits == [])
        #expect(kafka.note?.hasPrefix("untested here") == true, "\(String(describing: kafka.note))")
        #expect(ServiceKind.Implementation.redpanda.untestedNote?.hasPrefix("untested here") == true)
        #expect(ServiceKind.Implementation.tansu.untestedNote == nil)
    }
}
