import Foundation
import Testing
@testable import MusterKit

/// Every key the stack file parser knows, in every place it knows it, is either a list
/// field or takes one value (or a mapping). A list field given a scalar is refused with
/// its location and the list form that was meant, unless the contract gives the scalar
/// a meaning (`command: "..."` runs under /bin/sh -c); any other field given a list is
/// refused. The keys come from the parser's own tables, so a new key is checked here
/// the moment it is added: as a single-value field until it is listed below.
@Suite struct ListFieldTests {
    /// One key in one place of the stack file.
    struct Field: Sendable, Hashable, CustomTestStringConvertible {
        var place: String
        var key: String
        var testDescription: String { "\(place).\(key)" }
    }

    /// The places keys live in, with every key the parser accepts there.
    static let places: [(place: String, keys: [String])] = [
        ("top", StackLoader.topLevelKeys),
        ("service", ServiceParser.commonKeys),
        ("engine", ServiceParser.engineKeys),
        ("probe", ProbeSpec.kindNames + ServiceParser.probeTimingKeys),
        ("kafka probe", ServiceParser.kafkaProbeKeys),
        ("dependency", ServiceParser.dependencyKeys),
        ("topic", ServiceParser.topicKeys),
        ("snapshot", ServiceParser.snapshotKeys),
        ("logs", LogSettings.keys),
        ("watch rule", ServiceParser.watchRuleKeys),
        ("watch settings", WatchSettings.keys),
    ]

    /// The list fields: a scalar there, and the first line it is refused with
    /// (after `FILE:LINE:COLUMN: `), or nil when the contract reads the scalar.
    static let lists: [Field: (scalar: String, refusal: String?)] = [
        Field(place: "top", key: "env"): (
            "DEBUG=1",
            "env must be a mapping of KEY: value or a list of KEY=value, got the scalar \"DEBUG=1\"; write env: { DEBUG: 1 }"
        ),
        Field(place: "service", key: "env"): (
            "DEBUG",
            "service api.env must be a mapping of KEY: value or a list of KEY=value, got the scalar \"DEBUG\"; write env: { DEBUG: VALUE }"
        ),
        Field(place: "service", key: "depends_on"): (
            "db", "service api.depends_on must be a list or a mapping, got the scalar \"db\"; write depends_on: [db]"
        ),
        Field(place: "service", key: "profiles"): (
            "debug", "service api.profiles must be a list, got the scalar \"debug\"; write profiles: [debug]"
        ),
        Field(place: "engine", key: "databases"): (
            "shop", "service db.databases must be a list, got the scalar \"shop\"; write databases: [shop]"
        ),
        Field(place: "engine", key: "topics"): (
            "orders", "service db.topics must be a list, got the scalar \"orders\"; write topics: [orders]"
        ),
        Field(place: "service", key: "watch"): (
            "app", "service api.watch must be a list, got the scalar \"app\"; write watch: [app]"
        ),
        Field(place: "watch rule", key: "ignore"): (
            "tests", "service api.watch[0].ignore must be a list, got the scalar \"tests\"; write ignore: [tests]"
        ),
        Field(place: "snapshot", key: "key"): (
            "migrations",
            "service db.snapshot.key must be a list, got the scalar \"migrations\"; write key: [migrations]"
        ),
        Field(place: "watch rule", key: "exec"): ("make", nil),
        // A string runs under /bin/sh -c (SPEC).
        Field(place: "service", key: "command"): ("sleep 1", nil),
        Field(place: "probe", key: "exec"): ("test -d /", nil),
        // One file, as in compose.
        Field(place: "service", key: "env_file"): ("api.env", nil),
    ]

    static let allFields: [Field] = places.flatMap { place in place.keys.map { Field(place: place.place, key: $0) } }
    static let singleFields: [Field] = allFields.filter { lists[$0] == nil }

    /// A stack whose only unusual value is `value` at `field`; the value is on a line of its own.
    static func stack(_ field: Field, _ value: String) -> String {
        let api = "services:\n  api:\n    command: [sleep, \"1\"]\n"
        let line = "\(field.key): \(value)\n"
        switch field.place {
        case "top": return field.key == "services" ? "services: \(value)\n" : line + api
        case "service":
            if field.key == "engine" { return "services:\n  db:\n    engine: \(value)\n" }
            if field.key == "command" { return "services:\n  api:\n    " + line }
            return api + "    " + line
        case "engine":
            let kind = [EngineKind.postgres, .redis, .kafka].first {
                ServiceParser.engineKeysByKind[$0, default: []].contains(field.key)
            }!
            return "services:\n  db:\n    engine: \(kind.rawValue)\n    " + line
        case "probe":
            let kind = ProbeSpec.kindNames.contains(field.key) ? "" : "      exec: [\"true\"]\n"
            return api + "    ready:\n" + kind + "      " + line
        case "kafka probe": return api + "    ready:\n      kafka:\n        " + line
        case "dependency": return api + "    depends_on:\n      api:\n        " + line
        case "topic":
            return "services:\n  bus:\n    engine: kafka\n    topics:\n"
                + (field.key == "name" ? "      - " + line : "      - name: orders\n        " + line)
        case "snapshot":
            return "services:\n  db:\n    engine: postgres\n    snapshot:\n"
                + (field.key == "after" ? "" : "      after: migrate\n") + "      " + line
        case "watch rule":
            return api + "    watch:\n" + (field.key == "path" ? "      - " + line : "      - path: .\n        " + line)
        case "watch settings": return "watch:\n  " + line + api
        default: return "logs:\n  " + line + api
        }
    }

    static func parse(_ yaml: String, in directory: String = NSTemporaryDirectory()) throws -> StackSpec {
        try StackLoader.parse(
            yaml: yaml, file: "stack.yaml", directory: directory, environment: ProcessInfo.processInfo.environment)
    }

    /// The 1-based line of `yaml` that holds `text`.
    static func line(of text: String, in yaml: String) -> Int? {
        yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(text) }.map { $0 + 1 }
    }

    @Test func theListTableNamesOnlyKeysTheParserKnows() {
        for field in Self.lists.keys {
            #expect(Self.allFields.contains(field), "\(field.testDescription) is not a key of the parser")
        }
        #expect(Self.allFields.count == Set(Self.allFields).count)
    }

    @Test(arguments: lists.keys.filter { lists[$0]?.refusal != nil })
    func aScalarIsRefusedWithTheListForm(_ field: Field) throws {
        let (scalar, refusal) = try #require(Self.lists[field])
        let yaml = Self.stack(field, scalar)
        do {
            _ = try Self.parse(yaml)
            Issue.record("\(field.testDescription): \(scalar) was accepted")
        } catch let error as MusterError {
            #expect(error.exitCode == 2)
            let row = try #require(Self.line(of: "\(field.key): \(scalar)", in: yaml))
            let column =
                "\(field.key): ".count + (yaml.split(separator: "\n")[row - 1].prefix { $0 == " " || $0 == "-" }.count)
                + 1
            #expect(error.headline == "stack.yaml:\(row):\(column): " + (refusal ?? ""))
        }
    }

    @Test(arguments: singleFields)
    func aListIsRefusedWhereOneValueBelongs(_ field: Field) throws {
        let yaml = Self.stack(field, "[one, two]")
        do {
            _ = try Self.parse(yaml)
            Issue.record(
                "\(field.testDescription): [one, two] was accepted; if it is a list field, add it to ListFieldTests.lists"
            )
        } catch let error as MusterError {
            #expect(error.exitCode == 2)
            #expect(error.location?.line == Self.line(of: "\(field.key): [one, two]", in: yaml), "\(error.headline)")
        }
    }

    @Test func aShellCommandIsStillAString() throws {
        let field = Field(place: "service", key: "command")
        let stack = try Self.parse(Self.stack(field, try #require(Self.lists[field]?.scalar)))
        guard case let .shell(template)? = stack.service(named: "api")?.command else {
            Issue.record("not a shell command"); return
        }
        #expect(template.description == "sleep 1")
    }

    @Test func aShellProbeIsStillAString() throws {
        let field = Field(place: "probe", key: "exec")
        let stack = try Self.parse(Self.stack(field, try #require(Self.lists[field]?.scalar)))
        guard case let .exec(.shell(template))? = stack.service(named: "api")?.ready?.kind else {
            Issue.record("not a shell probe"); return
        }
        #expect(template.description == "test -d /")
    }

    @Test func oneEnvFileIsStillAPath() throws {
        let directory = NSTemporaryDirectory() + "muster-lists-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "API_TOKEN=t0k3n\n".write(toFile: directory + "/api.env", atomically: true, encoding: .utf8)
        let field = Field(place: "service", key: "env_file")
        let stack = try Self.parse(Self.stack(field, try #require(Self.lists[field]?.scalar)), in: directory)
        #expect(stack.service(named: "api")?.envFileValues.map(\.key) == ["API_TOKEN"])
    }

    /// `key:` with nothing after it (or `""`) is no entries, not a scalar.
    @Test func aNullListIsEmpty() throws {
        let stack = try Self.parse(
            "services:\n  db:\n    engine: postgres\n    databases:\n  bus:\n    engine: kafka\n    topics: \"\"\n"
                + "  api:\n    command: [sleep, \"1\"]\n    profiles:\n    depends_on: ~\n")
        #expect(stack.service(named: "db")?.engine?.databases == [])
        #expect(stack.service(named: "bus")?.engine?.topics == [])
        #expect(stack.service(named: "api")?.profiles == [])
        #expect(stack.service(named: "api")?.dependsOn.isEmpty == true)
    }

    /// The hint writes the value as it was written: quoted when it was quoted, several
    /// comma-separated values as several items.
    @Test func theHintKeepsTheValueAsWritten() throws {
        for (value, hint) in [
            ("\"shop\"", "write databases: [\"shop\"]"), ("shop, shop_test", "write databases: [shop, shop_test]"),
        ] {
            do {
                _ = try Self.parse("services:\n  db:\n    engine: postgres\n    databases: \(value)\n")
                Issue.record("\(value) was accepted")
            } catch let error as MusterError {
                #expect(error.headline.hasSuffix(hint), "\(error.headline)")
            }
        }
    }
}
