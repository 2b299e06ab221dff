import Foundation
import Testing
@testable import MusterKit

/// `watch:` rules as the stack file gives them: the forms, the defaults, what they
/// cover, and the warning for a path that matches nothing yet.
@Suite struct WatchRuleTests {
    static func folder() throws -> String {
        let directory = NSTemporaryDirectory() + "muster-watchrules-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(
            atPath: directory + "/app/migrations", withIntermediateDirectories: true)
        for file in ["app/api.py", "app/util.py", "app/migrations/001.sql", "app/test_api.py"] {
            try "x\n".write(toFile: directory + "/" + file, atomically: true, encoding: .utf8)
        }
        return directory
    }

    static func parse(_ yaml: String, in directory: String) throws -> StackSpec {
        try StackLoader.parse(yaml: yaml, file: "stack.yaml", directory: directory, environment: [:])
    }

    @Test func theFormsAndTheirActions() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stack = try Self.parse(
            """
            watch:
              debounce: 250ms
            services:
              migrate:
                command: [sh, -c, "true"]
                task: true
                watch:
                  - path: app/migrations
                    action: rerun
              api:
                command: [sh, -c, "sleep 60"]
                depends_on: { migrate: completed }
                watch:
                  - app/api.py
                  - path: app
                    ignore: ["test_*.py", migrations]
                  - path: "app/*.go"
                    exec: go build ./cmd/api
            """, in: directory)
        #expect(stack.watch.debounce == .milliseconds(250))
        let migrate = try #require(stack.service(named: "migrate"))
        #expect(migrate.watch.map(\.action) == [.rerun])
        let api = try #require(stack.service(named: "api"))
        #expect(api.watch.count == 3)
        #expect(api.watch[0].action == .restart && api.watch[0].absolutePath == directory + "/app/api.py")
        #expect(api.watch[1].ignore == ["test_*.py", "migrations"])
        guard case let .exec(command) = api.watch[2].action else { Issue.record("not exec"); return }
        #expect(command.display == "go build ./cmd/api")
        // A glob that matches nothing yet is a warning with its place, not an error.
        #expect(
            stack.warnings.contains { $0.hasPrefix("stack.yaml:17:") && $0.contains("matches no file yet") },
            "\(stack.warnings)")
        #expect(api.location != nil)
    }

    @Test func theDebounceDefaultsTo100ms() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stack = try Self.parse("services:\n  api:\n    command: [sleep, \"1\"]\n    watch: [app]\n", in: directory)
        #expect(stack.watch.debounce == .milliseconds(100))
        #expect(stack.warnings.isEmpty)
    }

    @Test func whatARuleCovers() throws {
        let project = "/p"
        func rule(_ path: String, ignore: [String] = []) -> WatchRule {
            WatchRule(path: path, absolutePath: StackLoader.resolve(path, in: project), ignore: ignore)
        }
        let folder = rule("app", ignore: ["test_*.py", "migrations", "static/gen/*"])
        #expect(GlobMatcher.covers(folder, file: "/p/app/api.py", projectDirectory: project))
        #expect(GlobMatcher.covers(folder, file: "/p/app/deep/er/x.py", projectDirectory: project))
        #expect(!GlobMatcher.covers(folder, file: "/p/app/test_api.py", projectDirectory: project))
        #expect(!GlobMatcher.covers(folder, file: "/p/app/migrations/001.sql", projectDirectory: project))
        #expect(!GlobMatcher.covers(folder, file: "/p/app/static/gen/a.js", projectDirectory: project))
        #expect(GlobMatcher.covers(folder, file: "/p/app/static/b.js", projectDirectory: project))
        #expect(!GlobMatcher.covers(folder, file: "/p/application/x.py", projectDirectory: project))
        let glob = rule("src/**/*.go")
        #expect(GlobMatcher.covers(glob, file: "/p/src/main.go", projectDirectory: project))
        #expect(GlobMatcher.covers(glob, file: "/p/src/a/b/c.go", projectDirectory: project))
        #expect(!GlobMatcher.covers(glob, file: "/p/src/a/b/c.py", projectDirectory: project))
        #expect(GlobMatcher.root(of: glob).folder == "/" || GlobMatcher.root(of: glob).recursive)
        let file = rule("app/api.py")
        #expect(GlobMatcher.covers(file, file: "/p/app/api.py", projectDirectory: project))
        #expect(!GlobMatcher.covers(file, file: "/p/app/api.pyc", projectDirectory: project))
    }

    @Test func gitignoreRules() throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "# comment\n*.log\nbuild/\n/app/generated.py\n!keep.log\n".write(
            toFile: directory + "/.gitignore", atomically: true, encoding: .utf8)
        var ignore = GitIgnore()
        ignore.load(folder: directory)
        #expect(ignore.ignores(directory + "/app/debug.log", isFolder: false))
        #expect(!ignore.ignores(directory + "/app/keep.log", isFolder: false))
        #expect(ignore.ignores(directory + "/build", isFolder: true))
        #expect(ignore.ignores(directory + "/app/build/x.py", isFolder: false))
        #expect(ignore.ignores(directory + "/app/generated.py", isFolder: false))
        #expect(!ignore.ignores(directory + "/lib/app/generated.py", isFolder: false))
        #expect(!ignore.ignores(directory + "/app/api.py", isFolder: false))
    }

    @Test func theReasonNamesTheFiles() {
        #expect(StackWatch.reason(for: ["app/api.py"]) == "files changed: app/api.py")
        #expect(StackWatch.reason(for: ["app/api.py", "a", "b", "c"]) == "files changed: app/api.py (+3 more)")
    }

    @Test func contentNotMetadataDecides() {
        let old = FileFingerprint(size: 10, modified: 1, inode: 7, contentHash: 42)
        #expect(!FileFingerprint.contentChanged(from: old, to: old))
        var touched = old
        touched.modified = 2
        #expect(!FileFingerprint.contentChanged(from: old, to: touched))
        var edited = touched
        edited.contentHash = 43
        #expect(FileFingerprint.contentChanged(from: old, to: edited))
        var grown = old
        grown.size = 11
        #expect(FileFingerprint.contentChanged(from: old, to: grown))
        #expect(FileFingerprint.contentChanged(from: old, to: nil))
        #expect(FileFingerprint.contentChanged(from: nil, to: old))
        #expect(!FileFingerprint.contentChanged(from: nil, to: nil))
    }
}
