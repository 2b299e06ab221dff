import Foundation
import Testing
@testable import MusterKit

/// The key of a keyed snapshot (`snapshot: { after: migrate, key: [GLOBS] }`): what
/// changes it and what does not, on real files in temp folders.
@Suite struct SnapshotKeyTests {
    static let yaml = """
        services:
          db:
            engine: postgres
            port: auto
            databases: [shop]
            snapshot: { after: migrate, key: [migrations/*.sql, schema.txt] }
          migrate:
            command: ["sh", "-c", "psql \\"$$DATABASE_URL\\" -f migrations/001.sql"]
            env: { DATABASE_URL: "${db.url}", LOG_DIR: "HERE/logs" }
            depends_on: { db: ready }
        """

    /// A project folder with the stack file and its migrations; `HERE` in the stack
    /// file stands for the folder itself (an absolute path in the environment).
    static func project(
        _ yaml: String = yaml,
        files: [String: String] = [
            "migrations/001.sql": "CREATE TABLE a (id int);",
            "migrations/002.sql": "CREATE TABLE b (id int);",
            "schema.txt": "v1",
        ]
    ) throws -> String {
        let folder = NSTemporaryDirectory() + "muster-key-\(UInt64.random(in: 0...UInt64.max))"
        for (path, text) in files {
            try FileManager.default.createDirectory(
                atPath: ((folder + "/" + path) as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true)
            try text.write(toFile: folder + "/" + path, atomically: true, encoding: .utf8)
        }
        try yaml.replacingOccurrences(of: "HERE", with: folder).write(
            toFile: folder + "/muster.yaml", atomically: true, encoding: .utf8)
        return folder
    }

    static func key(_ folder: String, build: String = "postgres (PostgreSQL) 15.14") throws -> SnapshotKey {
        let stack = try StackLoader.load(path: folder + "/muster.yaml")
        let db = try #require(stack.service(named: "db"))
        return try #require(SnapshotKey.current(for: db, in: stack, postgresBuild: build))
    }

    @Test func theSameFilesCommandEnvironmentAndBuildGiveTheSameKey() throws {
        let folder = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try Self.key(folder)
        #expect(first.hex.count == 64 && first.hex.allSatisfy(\.isHexDigit))
        #expect(try Self.key(folder) == first)
        #expect(first.short == String(first.hex.prefix(8)) + "…")
    }

    @Test func aChangedFileAnAddedFileTheCommandTheEnvironmentOrTheBuildChangeIt() throws {
        let folder = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let original = try Self.key(folder)

        try "CREATE TABLE a (id bigint);".write(
            toFile: folder + "/migrations/001.sql", atomically: true, encoding: .utf8)
        let changed = try Self.key(folder)
        #expect(changed != original)
        try "CREATE TABLE a (id int);".write(toFile: folder + "/migrations/001.sql", atomically: true, encoding: .utf8)
        #expect(try Self.key(folder) == original, "the same contents again: the same key")

        try "CREATE TABLE c (id int);".write(toFile: folder + "/migrations/003.sql", atomically: true, encoding: .utf8)
        #expect(try Self.key(folder) != original, "a new migration")
        unlink(folder + "/migrations/003.sql")
        try "".write(toFile: folder + "/migrations/notes.md", atomically: true, encoding: .utf8)
        #expect(try Self.key(folder) == original, "a file the globs do not match")

        #expect(try Self.key(folder, build: "postgres (PostgreSQL) 16.4") != original, "another Postgres build")

        let other = try Self.project(
            Self.yaml.replacingOccurrences(of: "-f migrations/001.sql", with: "-f migrations/002.sql"))
        defer { try? FileManager.default.removeItem(atPath: other) }
        #expect(try Self.key(other) != original, "another command")
        let env = try Self.project(Self.yaml.replacingOccurrences(of: "HERE/logs", with: "HERE/other-logs"))
        defer { try? FileManager.default.removeItem(atPath: env) }
        #expect(try Self.key(env) != original, "another environment")
    }

    @Test func theProjectFolderAndTheChosenPortDoNotCount() throws {
        // Two checkouts of one project in different folders, as two CI jobs have.
        let first = try Self.project()
        let second = try Self.project()
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        #expect(first != second)
        #expect(
            try Self.key(first) == (try Self.key(second)),
            "the folder's path in LOG_DIR counts as '.', ${db.url} as written")
    }

    @Test func fileOrderDoesNotCountButPathsDo() {
        let a = (path: "migrations/001.sql", contents: Data("one".utf8))
        let b = (path: "migrations/002.sql", contents: Data("two".utf8))
        let key = SnapshotKey.make(
            files: [a, b], command: "migrate", environment: [("A", "1"), ("B", "2")], postgresBuild: "15")
        #expect(
            SnapshotKey.make(
                files: [b, a], command: "migrate", environment: [("B", "2"), ("A", "1")], postgresBuild: "15") == key)
        let renamed = (path: "migrations/009.sql", contents: Data("two".utf8))
        #expect(
            SnapshotKey.make(
                files: [a, renamed], command: "migrate", environment: [("A", "1"), ("B", "2")], postgresBuild: "15")
                != key)
        // Contents moved from one file to the other are another state.
        let swapped = [(path: a.path, contents: b.contents), (path: b.path, contents: a.contents)]
        #expect(
            SnapshotKey.make(
                files: swapped, command: "migrate", environment: [("A", "1"), ("B", "2")], postgresBuild: "15") != key)
    }

    @Test func globsMatchUnderTheStackFolderAndSkipIgnoredFolders() throws {
        let folder = try Self.project(files: [
            "db/migrations/001.sql": "a", "db/migrations/sub/002.sql": "b", "db/seed.sql": "c",
            ".git/x.sql": "d", "db/node_modules/y.sql": "e", "db/readme.md": "f",
        ])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(
            SnapshotKeyFiles.matches("db/**/*.sql", base: folder) == [
                "db/migrations/001.sql", "db/migrations/sub/002.sql", "db/seed.sql",
            ])
        #expect(SnapshotKeyFiles.matches("db/migrations/*.sql", base: folder) == ["db/migrations/001.sql"])
        #expect(SnapshotKeyFiles.matches("./db/seed.sql", base: folder) == ["db/seed.sql"])
        #expect(
            SnapshotKeyFiles.matches("db/migrations", base: folder) == [
                "db/migrations/001.sql", "db/migrations/sub/002.sql",
            ],
            "a folder: every file under it")
        #expect(SnapshotKeyFiles.matches("db/*.sqll", base: folder).isEmpty)
        #expect(SnapshotKeyFiles.matches("nothing/here.sql", base: folder).isEmpty)
    }

    @Test func aGlobThatMatchesNothingIsAWarningWithItsPlace() throws {
        let folder = try Self.project(Self.yaml.replacingOccurrences(of: "migrations/*.sql", with: "migrations/*.sqll"))
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let stack = try StackLoader.load(path: folder + "/muster.yaml")
        let warnings = stack.warnings.filter { $0.contains("snapshot.key") }
        #expect(warnings.count == 1, "\(stack.warnings)")
        #expect(warnings.first?.hasPrefix(folder + "/muster.yaml:6:") == true, "\(warnings)")
        #expect(
            warnings.first?.contains("service db: snapshot.key migrations/*.sqll matches no file") == true,
            "\(warnings)")
    }

    @Test func keyMustBeAListOfNonEmptyGlobs() throws {
        for (written, expected) in [
            ("key: migrations/*.sql", "must be a list"), ("key: [\"\"]", "empty glob"), ("key: [[a]]", "single values"),
        ] {
            let yaml =
                "services:\n  db: { engine: postgres, snapshot: { after: m, \(written) } }\n  m: { command: [\"true\"] }\n"
            do {
                _ = try StackLoader.parse(yaml: yaml, file: "muster.yaml", directory: "/tmp", environment: [:])
                Issue.record("\(written) was accepted")
            } catch let error as MusterError {
                #expect(error.exitCode == 2)
                #expect(error.headline.hasPrefix("muster.yaml:2:"), "\(error.headline)")
                #expect(error.message.contains(expected), "\(written): \(error.message)")
            }
        }
    }
}
