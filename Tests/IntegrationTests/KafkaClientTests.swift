import Foundation
import Testing
@testable import MusterKit

/// The Kafka clients users run (confluent-kafka, aiokafka, kafka-python from PyPI)
/// against the broker muster starts: Tests/KafkaClients, a pytest suite, run by the
/// venv's Python against one stack (Tests/KafkaClients/stack.yaml) started here with the
/// built muster. The suite asserts what works and pins what the built-in broker lacks,
/// so a broker upgrade shows up as a changed test. Its last test restarts the broker with
/// `muster restart bus`; the restart's event must say that the messages are gone.
@Suite(.serialized) struct KafkaClientTests {
    static let suite = TestStack.repoRoot + "/Tests/KafkaClients"

    @Test func theClientsUsersRunAgainstTheBuiltInBroker() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestStack.python), "run scripts/install-deps first")
        let stack = try TestStack(try String(contentsOfFile: Self.suite + "/stack.yaml", encoding: .utf8))
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "up -d: \(up.output)")
        let bootstrap = try #require(try await stack.env()["BUS_BOOTSTRAP"])

        let pytest = try await CLIResult.run(
            command: [TestStack.python, "-m", "pytest", "-q", "."], in: Self.suite,
            environment: [
                "MUSTER_KAFKA_BOOTSTRAP": bootstrap, "MUSTER_BIN": TestStack.binary,
                "MUSTER_KAFKA_STACK_DIR": stack.directory, "PYTHONDONTWRITEBYTECODE": "1",
                "MUSTER_TESTS_FILE": nil, "MUSTER_CONTROL_SOCKET": nil, "PYTEST_ADDOPTS": nil,
            ])
        #expect(pytest.status == 0, "the Kafka client suite failed:\n\(pytest.output)")
        #expect(pytest.output.contains(" passed"), "\(pytest.output)")
        #expect(!pytest.output.contains(" skipped") && !pytest.output.contains(" failed"), "\(pytest.output)")

        // The suite's `muster restart bus` is a `restarted` event that says what was lost.
        let restarts = stack.events().filter { $0.service == "bus" && $0.type.rawValue == "restarted" }
        #expect(restarts.count == 1, "\(restarts)")
        let reason = restarts.first?.reason ?? ""
        #expect(reason == "restart requested; the broker keeps messages in memory: every message is gone", "\(reason)")

        // doctor names the broker that runs and what it lacks.
        let doctor = try await stack.muster("doctor")
        #expect(doctor.status == 0, "\(doctor.output)")
        #expect(doctor.output.contains("kafka runs Tansu"), "\(doctor.output)")
        #expect(doctor.output.contains("session.timeout.ms=6000"), "\(doctor.output)")

        let groups = RuntimeState.readAny(stack.paths)?.groups ?? []
        #expect(!groups.isEmpty)
        let down = try await stack.muster("down")
        #expect(down.status == 0, "down: \(down.output)")
        #expect(groups.allSatisfy { ProcessTable.members(ofGroup: $0).isEmpty }, "a process of the stack is left")
        #expect(ControlClient.connect(stack.paths) == nil)
    }
}
