import Foundation
import Testing
@testable import MusterKit

/// Compose's `develop.watch` imports into `watch:` rules, and `export compose` writes
/// them back so that a round trip keeps every action.
@Suite struct ComposeWatchTests {
    @Test func developWatchImports() throws {
        let compose = """
            services:
              db: { image: "postgres:16" }
              api:
                build: .
                command: python app/api.py
                develop:
                  watch:
                    - { action: sync+restart, path: ./app, target: /srv/app, ignore: ["*.pyc"] }
                    - { action: rebuild, path: ./requirements.txt }
                    - { action: sync, path: ./static, target: /srv/static }
            """
        let imported = try StackImporter.convert(text: compose, source: "compose.yaml")
        #expect(imported.yaml.contains("compose rebuilt the image"), "\(imported.yaml)")
        #expect(imported.yaml.contains("Left out of develop.watch: sync of static"), "\(imported.yaml)")
        let directory = NSTemporaryDirectory() + "muster-composewatch-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/app", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stack = try StackLoader.parse(
            yaml: ImportTests.uncomment(imported.yaml, ["api"]), file: "m.yaml", directory: directory, environment: [:])
        let rules = try #require(stack.service(named: "api")?.watch)
        #expect(rules.map(\.path) == ["app", "requirements.txt"])
        #expect(rules.map(\.action) == [.restart, .restart])
        #expect(rules[0].ignore == ["*.pyc"])
    }

    @Test func everyActionSurvivesARoundTrip() throws {
        let directory = NSTemporaryDirectory() + "muster-composewatch-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/app", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stack = try StackLoader.parse(
            yaml: """
                services:
                  db: { engine: postgres }
                  migrate:
                    command: ["sh", "-c", "echo migrated"]
                    task: true
                    watch: [{ path: app/migrations, action: rerun }]
                  api:
                    command: ["sh", "-c", "sleep 100"]
                    depends_on: { migrate: completed }
                    watch:
                      - { path: app, ignore: [tests] }
                      - { path: "cmd/*.go", exec: go build ./cmd/api }
                """, file: "muster.yaml", directory: directory, environment: [:])
        let compose = ComposeExporter(stack: stack).render()
        #expect(
            compose.contains("develop:") && compose.contains("x-muster-action: rerun")
                && compose.contains("action: rebuild"), "\(compose)")
        let imported = try StackImporter.convert(text: compose, source: "compose.yaml")
        let back = try StackLoader.parse(
            yaml: ImportTests.uncomment(imported.yaml, ["migrate", "api"]), file: "m.yaml",
            directory: directory, environment: [:])
        #expect(back.service(named: "migrate")?.watch.map(\.action) == [.rerun], "\(imported.yaml)")
        let api = try #require(back.service(named: "api")?.watch)
        #expect(api.map(\.path) == ["app", "cmd/*.go"])
        #expect(api[0].action == .restart && api[0].ignore == ["tests"])
        guard case let .exec(command) = api[1].action else { Issue.record("not exec: \(imported.yaml)"); return }
        #expect(command.display == "go build ./cmd/api")
    }
}
