import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The `task: true` hint for a one-shot that does not say it is one.
@Suite struct TaskSuggestionTests {
    func policy(probe: Bool = false, restart: RestartPolicy = .no, task: Bool = false) -> ServiceLifecycle.Policy {
        .init(
            hasReadyProbe: probe, hasAliveProbe: false, restart: restart, maxRestarts: nil, stopSignal: SIGTERM,
            stopTimeout: .seconds(10), isTask: task)
    }

    @Test func quickCleanExitOfAServiceWithoutProbeGetsOneLine() throws {
        let reason = try #require(
            TaskSuggestion.reason(policy: policy(), status: .exited(0), uptime: .milliseconds(1234)))
        #expect(
            reason
                == "exited with code 0 1.2s after it started and nothing waits for it to complete; if it is a one-shot step, set task: true so up waits until it completes"
        )
        #expect(!reason.contains("\n"))
        #expect(TaskSuggestion.isSuggestion(reason))
        #expect(
            TaskSuggestion.reason(policy: policy(restart: .onFailure), status: .exited(0), uptime: .seconds(1)) != nil)
    }

    @Test func noHintWhereItWouldBeWrong() {
        #expect(
            TaskSuggestion.reason(policy: policy(task: true), status: .exited(0), uptime: .seconds(1)) == nil,
            "a task already")
        #expect(
            TaskSuggestion.reason(policy: policy(probe: true), status: .exited(0), uptime: .seconds(1)) == nil,
            "up waited for its probe")
        #expect(
            TaskSuggestion.reason(policy: policy(restart: .always), status: .exited(0), uptime: .seconds(1)) == nil,
            "restarted, not completed")
        #expect(
            TaskSuggestion.reason(policy: policy(), status: .exited(1), uptime: .seconds(1)) == nil,
            "a failure, not a one-shot")
        #expect(
            TaskSuggestion.reason(policy: policy(), status: .exited(0), uptime: TaskSuggestion.window) == nil,
            "it ran a while")
        #expect(!TaskSuggestion.isSuggestion("did not stop within 10s; sent SIGKILL"))
        #expect(!TaskSuggestion.isSuggestion(nil))
    }
}
