import Foundation
import Testing
@testable import MusterKit

/// `profiles:` select optional services, as in compose.
@Suite struct ProfilesTests {
    static let text = """
        services:
          app:
            command: ["sleep", "300"]
          debugger:
            command: ["sleep", "300"]
            profiles: [debug]
          seed:
            command: "echo seeded"
            profiles: [data, debug]
            depends_on: { app: started }
        """

    @Test func profilesDecideWhatAPlainUpStarts() async throws {
        let stack = try TestStack(Self.text)
        defer { stack.cleanup() }
        let plain = try StackSession(stack: try stack.load(), options: .init(console: nil))
        #expect(plain.selected == ["app"])
        _ = plain
    }

    @Test func anActiveProfileAddsItsServices() async throws {
        let stack = try TestStack(Self.text)
        defer { stack.cleanup() }
        let session = try StackSession(stack: try stack.load(), profiles: ["data"], options: .init(console: nil))
        #expect(Set(session.selected) == ["app", "seed"])
    }

    @Test func namingAServiceStartsItWhateverItsProfile() async throws {
        let stack = try TestStack(Self.text)
        defer { stack.cleanup() }
        let session = try StackSession(stack: try stack.load(), services: ["debugger"], options: .init(console: nil))
        #expect(session.selected == ["debugger"])
    }

    @Test func throughTheCLI() async throws {
        let stack = try TestStack(Self.text)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d", "--profile", "debug").status == 0)
        let running = try await stack.status().services.filter { $0.state == "ready" || $0.state == "completed" }.map(
            \.name)
        #expect(Set(running) == ["app", "debugger", "seed"])
        #expect(try await stack.muster("down").status == 0)
    }

    @Test func badProfileNameIsRefusedWithALocation() throws {
        let yaml = "name: p\nservices:\n  a:\n    command: [\"true\"]\n    profiles: [\"has space\"]\n"
        #expect(throws: MusterError.self) {
            try StackLoader.parse(yaml: yaml, file: "m.yaml", directory: "/tmp", environment: [:])
        }
        do {
            _ = try StackLoader.parse(yaml: yaml, file: "m.yaml", directory: "/tmp", environment: [:])
        } catch let error as MusterError {
            #expect(error.headline.hasPrefix("m.yaml:5:"))
            #expect(error.exitCode == 2)
        }
    }

    @Test func overrideFilesReachTheDetachedSupervisor() async throws {
        let stack = try TestStack(Self.text)
        defer { stack.cleanup() }
        try
            "services:\n  app:\n    env: { FROM_OVERRIDE: \"yes\" }\n    command: \"echo $$FROM_OVERRIDE > seen.txt; sleep 300\"\n"
            .write(toFile: stack.directory + "/override.yaml", atomically: true, encoding: .utf8)
        let up = try await stack.muster("up", "-d", "-f", "muster.yaml", "-f", "override.yaml")
        #expect(up.status == 0, "\(up.output)")
        #expect(
            await eventually {
                (try? String(contentsOfFile: stack.directory + "/seen.txt", encoding: .utf8)) == "yes\n"
            })
        #expect(try await stack.muster("down", "-f", "muster.yaml", "-f", "override.yaml").status == 0)
    }
}
