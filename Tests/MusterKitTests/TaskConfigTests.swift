import Foundation
import Testing
@testable import MusterKit

/// `task: true` in the stack file, and which services the supervisor treats as tasks.
@Suite struct TaskConfigTests {
    static func parse(_ yaml: String) throws -> StackSpec {
        try StackLoader.parse(yaml: yaml, file: "muster.yaml", directory: "/tmp", environment: [:])
    }

    @Test func taskTrueIsReadAndShownByConfig() throws {
        let stack = try Self.parse(
            """
            services:
              migrate: { command: ["sh", "-c", "echo migrated"], task: true, restart: on-failure, max_restarts: 2 }
              api: { command: ["sh", "-c", "sleep 100"], task: false }
            """)
        #expect(stack.service(named: "migrate")?.task == true)
        #expect(stack.service(named: "api")?.task == false)
        let json = StackRenderer(stack: stack, project: nil).json().replacingOccurrences(of: " ", with: "")
        #expect(json.contains("\"task\":true") && json.contains("\"task\":false"))
    }

    @Test func tasksAreExplicitWaitedForOrSnapshotted() throws {
        let stack = try Self.parse(
            """
            services:
              db: { engine: postgres, databases: [shop], snapshot: { after: load } }
              migrate: { command: ["sh", "-c", "echo migrated"], task: true }
              seed: { command: ["sh", "-c", "echo seeded"], depends_on: { db: ready } }
              load: { command: ["sh", "-c", "echo loaded"], depends_on: { db: ready } }
              once: { command: ["sh", "-c", "echo once"] }
              api:
                command: ["sh", "-c", "sleep 100"]
                depends_on: { seed: completed, migrate: ready }
            """)
        let tasks = stack.services.filter(stack.isTask).map(\.name)
        #expect(tasks == ["migrate", "seed", "load"], "explicit, waited for with completed, a snapshot's after")
    }

    @Test func plannedTaskCarriesItInItsPolicy() throws {
        let stack = try Self.parse(
            """
            services:
              migrate: { command: ["sh", "-c", "echo migrated"], task: true }
              seed: { command: ["sh", "-c", "echo seeded"] }
              api: { command: ["sh", "-c", "sleep 100"], depends_on: { seed: completed } }
              once: { command: ["sh", "-c", "echo once"] }
            """)
        let paths = ProjectPaths(directory: NSTemporaryDirectory(), project: "t-taskplan")
        let plans = try StackPlanner(stack: stack, paths: paths, environment: ["PATH": "/usr/bin:/bin"])
            .plans(for: Set(stack.serviceNames), ports: [:])
        #expect(plans.filter(\.policy.isTask).map(\.name) == ["migrate", "seed"])
    }
}
