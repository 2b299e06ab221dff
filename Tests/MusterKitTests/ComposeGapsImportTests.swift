import Foundation
import Testing
import Yams
@testable import MusterKit

/// What real compose files showed `muster import` lacked: `include:`, Valkey and
/// Redis Stack images, ZooKeeper, files with nothing runnable, unset variables.
/// Each fixture's stack goes through the real loader and validator.
@Suite struct ComposeGapsImportTests {
    static func importFixture(
        _ name: String, file: String = "docker-compose.yml",
        environment: [String: String] = ["PATH": "/usr/bin:/bin"]
    ) throws -> (ImportedStack, String) {
        let directory = try ImportTests.scratch(name)
        let imported = try StackImporter.convert(path: directory + "/" + file, environment: environment)
        try imported.yaml.write(toFile: directory + "/muster.yaml", atomically: true, encoding: .utf8)
        return (imported, directory)
    }

    @Test func includeMergesFilesWithTheirOwnEnvFiles() throws {
        let (imported, directory) = try Self.importFixture("include")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(imported.services == ["db", "cache"])
        #expect(imported.placeholders == ["api"])
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        #expect(stack.name == "shop")
        let db = try #require(stack.service(named: "db"))
        #expect(
            ImportTests.settings(db) == ["max_connections": "150"],
            "db/.env fills db/compose.yaml's ${DB_MAX_CONNECTIONS}")
        #expect(db.engine?.password == "from-db-dotenv" && db.engine?.user == "shop")
        let cache = try #require(stack.service(named: "cache"))
        #expect(ImportTests.settings(cache) == ["maxmemory": "48mb"], "the entry's env_file fills cache/compose.yaml")
        #expect(cache.port == .fixed(6390), "the override file of the same entry merges in")
        #expect(!imported.yaml.contains("Not carried over: top-level include"))
        #expect(imported.warnings.count == 1)
        #expect(
            imported.warnings.first?.hasPrefix(
                "variable DB_PASSWORD is not set and has no default (used by api: environment.DATABASE_URL)") == true,
            "the main file has no .env: \(imported.warnings)")
        #expect(imported.yaml.contains("# Warning: variable DB_PASSWORD"))
    }

    @Test func aServiceDefinedByTwoIncludesIsAnErrorNamingBoth() throws {
        let directory = try ImportTests.scratch("include-conflict")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            _ = try StackImporter.convert(path: directory + "/compose.yaml")
            Issue.record("two definitions of db were accepted")
        } catch let error as MusterError {
            #expect(error.exitCode == 2 && !error.headline.contains("\n"))
            #expect(
                error.headline
                    == "service db is defined in both a/compose.yaml and b/compose.yaml; compose refuses that in an include:d project too: keep one"
            )
        }
    }

    @Test func includeErrorsNameThePath() throws {
        let directory = NSTemporaryDirectory() + "muster-include-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "include: [sub/missing.yaml]\n".write(
            toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
        #expect {
            try StackImporter.convert(path: directory + "/compose.yaml")
        } throws: { error in
            (error as? MusterError)?.headline
                == "compose.yaml: include: sub/missing.yaml not found (looked in \(directory)/sub); fix the path"
        }
        try "include: [../compose.yaml]\nservices: {db: {image: postgres}}\n".write(
            toFile: directory + "/sub/loop.yaml", atomically: true, encoding: .utf8)
        try "include: [sub/loop.yaml]\n".write(toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
        #expect {
            try StackImporter.convert(path: directory + "/compose.yaml")
        } throws: { error in
            (error as? MusterError)?.headline.contains("includes itself") == true
        }
        try "services:\n  db:\n    image: [postgres\n".write(
            toFile: directory + "/sub/broken.yaml", atomically: true, encoding: .utf8)
        try "include: [sub/broken.yaml]\n".write(toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
        #expect {
            try StackImporter.convert(path: directory + "/compose.yaml")
        } throws: { error in
            (error as? MusterError)?.headline.range(
                of: #"^sub/broken\.yaml:\d+:\d+: YAML"#, options: .regularExpression) != nil
        }
    }

    @Test func valkeyAndRedisStackBecomeRedisEngines() throws {
        let (imported, directory) = try Self.importFixture("valkey")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(imported.services == ["sessions", "search"])
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        let sessions = try #require(stack.service(named: "sessions"))
        #expect(sessions.engine?.kind == .redis && sessions.port == .fixed(6381))
        #expect(
            ImportTests.settings(sessions) == ["maxmemory": "32mb", "maxmemory-policy": "allkeys-lru"],
            "valkey-server's flags are Redis flags")
        #expect(sessions.engine?.bin == nil)
        #expect(imported.yaml.contains("valkey-server is not installed here: muster runs redis-server"))
        #expect(stack.service(named: "search")?.engine?.kind == .redis)
        #expect(imported.yaml.contains("Redis Stack's modules (search, JSON, time series) are not loaded"))
    }

    @Test func valkeyServerIsUsedWhenInstalled() throws {
        let bin = NSTemporaryDirectory() + "muster-valkey-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        _ = FileManager.default.createFile(
            atPath: bin + "/valkey-server", contents: Data("#!/bin/sh\n".utf8),
            attributes: [.posixPermissions: 0o755])
        let (imported, directory) = try Self.importFixture("valkey", environment: ["PATH": bin])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        #expect(stack.service(named: "sessions")?.engine?.bin == bin + "/valkey-server")
        #expect(imported.yaml.contains("valkey-server is installed here: muster runs it"))
    }

    @Test func zookeeperIsDroppedAndItsDependentsWaitForTheBroker() throws {
        let (imported, directory) = try Self.importFixture("zookeeper")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(imported.services == ["kafka"])
        #expect(imported.placeholders == ["consumer"], "zookeeper is neither a service nor a placeholder")
        #expect(imported.yaml.contains("# zookeeper: dropped (image confluentinc/cp-zookeeper:7.6.0)"))
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        let kafka = try #require(stack.service(named: "kafka"))
        #expect(kafka.engine?.kind == .kafka && kafka.dependsOn.isEmpty && kafka.port == .fixed(29092))
        let full = try StackLoader.parse(
            yaml: ImportTests.uncomment(imported.yaml, ["consumer"]), file: "m.yaml",
            directory: directory, environment: [:])
        #expect(
            full.service(named: "consumer")?.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } == [
                "kafka=ready"
            ])
    }

    @Test func nothingRunnableSaysWhatToComplete() throws {
        let (imported, directory) = try Self.importFixture("placeholders-only")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(imported.services.isEmpty && imported.placeholders == ["web", "proxy"])
        #expect(imported.yaml.contains("# Nothing is runnable yet"))
        #expect {
            try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        } throws: { error in
            let headline = (error as? MusterError)?.headline ?? ""
            return headline.hasSuffix(
                "no service is runnable yet: web, proxy are commented-out placeholders; uncomment one and set its command: (what runs it on this machine)"
            )
        }
    }

    @Test func unsetVariablesAreNamedWithWhereTheyAreUsed() throws {
        let (imported, directory) = try Self.importFixture("unset-variable", environment: [:])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(
            imported.warnings == [
                "variable DB_USER is not set and has no default (used by db: environment.POSTGRES_USER); export it or add it to .env before `muster up`"
            ])
        #expect(imported.yaml.contains("# Warning: variable DB_USER is not set"))
        // `muster check` names the variable instead of quoting an empty role name.
        #expect {
            try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
        } throws: { error in
            let headline = (error as? MusterError)?.headline ?? ""
            return headline.hasSuffix(
                "service db.user: \"\" is not a valid role name (${DB_USER} is not set: export it or add it to an env_file)"
            )
        }
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: ["DB_USER": "app"])
        #expect(stack.service(named: "db")?.engine?.user == "app")
        // With a .env beside the compose file, the stack reads it too, and nothing is unset.
        try "DB_USER=fromdotenv\n".write(toFile: directory + "/.env", atomically: true, encoding: .utf8)
        let again = try StackImporter.convert(path: directory + "/docker-compose.yml", environment: [:])
        #expect(again.warnings.isEmpty)
        try again.yaml.write(toFile: directory + "/muster.yaml", atomically: true, encoding: .utf8)
        #expect(
            try StackLoader.load(path: directory + "/muster.yaml", environment: [:]).service(named: "db")?.engine?.user
                == "fromdotenv")
    }

    /// Every compose fixture imports into a stack the real validator accepts.
    @Test(arguments: [
        ("full", "docker-compose.yml"), ("up", "docker-compose.yml"), ("include", "docker-compose.yml"),
        ("include-up", "compose.yaml"), ("valkey", "docker-compose.yml"), ("zookeeper", "docker-compose.yml"),
    ])
    func fixturePassesCheck(fixture: String, file: String) throws {
        let (_, directory) = try Self.importFixture(fixture, file: file)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try StackLoader.load(path: directory + "/muster.yaml", environment: [:])
    }
}
