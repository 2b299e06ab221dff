import Foundation
import Yams

/// The fields of an engine service (`engine: postgres`, `redis` or `kafka`): settings,
/// databases and role, durability, the snapshot, the Kafka implementation and topics.
extension ServiceParser {
    func engineField(_ key: String, _ node: Node, what: String, into engine: inout EngineOptions) throws {
        switch key {
        case "settings":
            engine.settings = try reader.mapping(node, what: what).map { pair in
                guard case .scalar = pair.value else {
                    throw reader.fail(
                        "\(what).\(pair.key) must be a single value, not \(reader.describe(pair.value))", pair.value)
                }
                return (pair.key, try reader.string(pair.value, what: "\(what).\(pair.key)"))
            }
        case "databases":
            engine.databases = try reader.stringList(node, what: what).map { name, item in
                guard isIdentifier(name) else {
                    throw reader.fail("\(what): \"\(name)\" is not a valid database name", item)
                }
                return name
            }
        case "user":
            let user = try reader.string(node, what: what)
            guard isIdentifier(user) else { throw reader.fail("\(what): \"\(user)\" is not a valid role name", node) }
            engine.user = user
        case "password": engine.password = try reader.string(node, what: what)
        case "template": engine.template = try reader.bool(node, what: what)
        case "durability":
            let text = try reader.string(node, what: what)
            guard let value = Durability(rawValue: text) else {
                throw reader.fail(
                    "\(what) must be fast (no fsync: only an OS crash can lose data) or full (every commit on disk), not \"\(text)\"",
                    node)
            }
            engine.durability = value
        case "snapshot":
            let pairs = try reader.mapping(node, what: what, allowed: Self.snapshotKeys)
            guard let after = pairs.first(where: { $0.key == "after" }) else {
                throw reader.fail(
                    "\(what) needs after: the task whose completion it waits for, as in snapshot: { after: migrate }",
                    node)
            }
            var spec = SnapshotSpec(
                after: try reader.string(after.value, what: "\(what).after"), location: reader.location(after.value))
            for pair in pairs where pair.key != "after" {
                if pair.key == "spares" {
                    spec.spares = try reader.int(
                        pair.value, what: "\(what).spares (ready copies kept per database)",
                        range: SnapshotSpec.sparesRange)
                    continue
                }
                if pair.key == "key" {
                    spec.key = try keyGlobs(pair.value, what: "\(what).key")
                    spec.keyBase = directory
                    continue
                }
                let value = try reader.string(pair.value, what: "\(what).\(pair.key)")
                if pair.key == "name" {
                    guard !value.isEmpty, value.count <= 40,
                        value.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
                    else {
                        throw reader.fail(
                            "\(what).name \"\(value)\" must be 1 to 40 letters, digits, '-', '_' or '.'", pair.value)
                    }
                    spec.name = value
                } else {
                    spec.database = value
                }
            }
            engine.snapshot = spec
        case "implementation":
            let text = try reader.string(node, what: what)
            guard let value = KafkaImplementation(rawValue: text) else {
                throw reader.fail("\(what) must be auto, apache, redpanda or tansu, not \"\(text)\"", node)
            }
            engine.implementation = value
        case "bin": engine.bin = StackLoader.resolve(try reader.string(node, what: what), in: directory)
        case "topics":
            if let topic = YAMLReader.flowMapping(node) {
                throw reader.fail(
                    "\(what) must be a list, not a mapping; write each topic as an item: topics: [\(topic)]", node)
            }
            engine.topics = try reader.list(node, what: what).map { item in
                if case .scalar = item {
                    return TopicSpec(name: try reader.string(item, what: what), partitions: 1, replicationFactor: 1)
                }
                let pairs = try reader.mapping(item, what: "a topic in \(what)", allowed: Self.topicKeys)
                guard let nameNode = pairs.first(where: { $0.key == "name" })?.value else {
                    throw reader.fail("a topic in \(what) needs a name", item)
                }
                var topic = TopicSpec(
                    name: try reader.string(nameNode, what: "\(what).name"), partitions: 1, replicationFactor: 1)
                for pair in pairs {
                    if pair.key == "partitions" {
                        topic.partitions = try reader.int(pair.value, what: "\(what).partitions", range: 1...10_000)
                    }
                    if pair.key == "replication_factor" {
                        topic.replicationFactor = try reader.int(
                            pair.value, what: "\(what).replication_factor", range: 1...10_000)
                        guard topic.replicationFactor == 1 else {
                            throw reader.fail(
                                "\(what).replication_factor must be 1 (a single-node broker), not \(topic.replicationFactor)",
                                pair.value)
                        }
                    }
                }
                guard !topic.name.isEmpty, topic.name.count <= 249,
                    topic.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
                else {
                    throw reader.fail(
                        "\(what): \"\(topic.name)\" is not a valid topic name (letters, digits, . _ -)", nameNode)
                }
                return topic
            }
        default: break
        }
    }

    private func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter, name.count <= 63 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
