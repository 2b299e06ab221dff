import Foundation

/// The Kafka APIs muster speaks and the version range it implements for each.
///
/// Only non-flexible versions are implemented, chosen inside the range every
/// target broker accepts: Apache Kafka 4.x dropped versions older than Kafka
/// 2.1 (KIP-896, e.g. CreateTopics v0-v1), and Kafka 2.1 already served all
/// the versions below, as do Redpanda and Tansu. The client picks the highest
/// version here that the broker's ApiVersions range allows.
public enum KafkaAPI: Int16, CaseIterable, Sendable {
    case metadata = 3
    case findCoordinator = 10
    case describeGroups = 15
    case apiVersions = 18
    case createTopics = 19

    public var name: String {
        switch self {
        case .metadata: return "Metadata"
        case .findCoordinator: return "FindCoordinator"
        case .describeGroups: return "DescribeGroups"
        case .apiVersions: return "ApiVersions"
        case .createTopics: return "CreateTopics"
        }
    }

    /// Versions muster can encode and decode.
    /// - Metadata v4+: v0-v3 auto-create requested topics on some brokers;
    ///   v4 adds AllowAutoTopicCreation (sent as false); v7 is the last
    ///   non-flexible version with the leader epoch.
    /// - CreateTopics v2-v4: v2 is the Kafka 4.x floor, v5 turns flexible.
    /// - FindCoordinator v1-v2: v0 is deprecated, v3 turns flexible.
    /// - DescribeGroups v0-v4: v5 turns flexible.
    /// - ApiVersions v0-v2: v3 turns flexible.
    public var implementedVersions: ClosedRange<Int16> {
        switch self {
        case .metadata: return 4...7
        case .findCoordinator: return 1...2
        case .describeGroups: return 0...4
        case .apiVersions: return 0...2
        case .createTopics: return 2...4
        }
    }
}

// MARK: - ApiVersions

/// One broker-supported version range from an ApiVersions response.
public struct KafkaAPIVersionRange: Equatable, Sendable {
    public let apiKey: Int16
    public let minVersion: Int16
    public let maxVersion: Int16
}

/// ApiVersions response: the handshake that tells which versions to use.
public struct KafkaAPIVersions: Equatable, Sendable {
    public let errorCode: Int16
    public let apis: [KafkaAPIVersionRange]
    public let throttleTimeMs: Int32

    /// The broker's range for `apiKey`, or nil when it does not offer the API.
    public func range(of apiKey: Int16) -> KafkaAPIVersionRange? {
        apis.first { $0.apiKey == apiKey }
    }

    /// ApiVersions v0-v2 requests have an empty body.
    static func requestBody(version: Int16) -> [UInt8] {
        []
    }

    /// Decodes a v0-v2 response. A broker that does not support the requested
    /// version answers UNSUPPORTED_VERSION (35) in the v0 layout, so on that
    /// error the throttle field is not expected.
    static func decode(_ decoder: inout KafkaDecoder, version: Int16) throws -> KafkaAPIVersions {
        let errorCode = try decoder.int16()
        let apis = try decoder.array { d in
            KafkaAPIVersionRange(apiKey: try d.int16(), minVersion: try d.int16(), maxVersion: try d.int16())
        }
        var throttle: Int32 = 0
        if version >= 1, errorCode != 35 {
            throttle = try decoder.int32()
        }
        return KafkaAPIVersions(errorCode: errorCode, apis: apis, throttleTimeMs: throttle)
    }

    /// The highest version of `api` both sides implement.
    func negotiate(_ api: KafkaAPI) throws -> Int16 {
        guard let broker = range(of: api.rawValue) else {
            throw KafkaError("broker does not support \(api.name) (api key \(api.rawValue))")
        }
        let ours = api.implementedVersions
        let high = min(ours.upperBound, broker.maxVersion)
        let low = max(ours.lowerBound, broker.minVersion)
        guard low <= high else {
            throw KafkaError(
                "broker supports \(api.name) v\(broker.minVersion)-v\(broker.maxVersion), muster implements v\(ours.lowerBound)-v\(ours.upperBound)"
            )
        }
        return high
    }
}

// MARK: - Metadata

/// A broker as listed in a Metadata response.
public struct KafkaBroker: Equatable, Sendable {
    public let nodeId: Int32
    public let host: String
    public let port: Int32
    public let rack: String?
}

/// One partition of a topic in a Metadata response; leaderId -1 means no leader.
public struct KafkaPartitionMetadata: Equatable, Sendable {
    public let errorCode: Int16
    public let partition: Int32
    public let leaderId: Int32
    /// -1 before Metadata v7.
    public let leaderEpoch: Int32
    public let replicas: [Int32]
    public let isr: [Int32]
    public let offlineReplicas: [Int32]
}

/// One topic in a Metadata response.
public struct KafkaTopicMetadata: Equatable, Sendable {
    public let errorCode: Int16
    public let name: String
    public let isInternal: Bool
    public let partitions: [KafkaPartitionMetadata]
}

/// Metadata response: brokers, controller and topics with their leaders.
public struct KafkaMetadata: Equatable, Sendable {
    public let throttleTimeMs: Int32
    public let brokers: [KafkaBroker]
    public let clusterId: String?
    public let controllerId: Int32
    public let topics: [KafkaTopicMetadata]

    /// The topic named `name`, if the response lists it.
    public func topic(_ name: String) -> KafkaTopicMetadata? {
        topics.first { $0.name == name }
    }

    /// `topics` nil asks for every topic, [] for none (brokers only).
    /// Auto-creation is always off: a probe must not create what it checks for.
    static func requestBody(topics: [String]?, version: Int16) -> [UInt8] {
        var encoder = KafkaEncoder()
        encoder.array(topics) { $0.string($1) }
        encoder.bool(false)  // AllowAutoTopicCreation, v4+
        return encoder.bytes
    }

    /// Decodes a v4-v7 response.
    static func decode(_ decoder: inout KafkaDecoder, version: Int16) throws -> KafkaMetadata {
        let throttle = try decoder.int32()
        let brokers = try decoder.array { d in
            KafkaBroker(nodeId: try d.int32(), host: try d.string(), port: try d.int32(), rack: try d.nullableString())
        }
        let clusterId = try decoder.nullableString()
        let controllerId = try decoder.int32()
        let topics = try decoder.array { d -> KafkaTopicMetadata in
            let errorCode = try d.int16()
            let name = try d.string()
            let isInternal = try d.bool()
            let partitions = try d.array { p -> KafkaPartitionMetadata in
                let errorCode = try p.int16()
                let index = try p.int32()
                let leader = try p.int32()
                let epoch: Int32 = version >= 7 ? try p.int32() : -1
                let replicas = try p.array { try $0.int32() }
                let isr = try p.array { try $0.int32() }
                let offline = version >= 5 ? try p.array { try $0.int32() } : []
                return KafkaPartitionMetadata(
                    errorCode: errorCode, partition: index, leaderId: leader, leaderEpoch: epoch,
                    replicas: replicas, isr: isr, offlineReplicas: offline)
            }
            return KafkaTopicMetadata(errorCode: errorCode, name: name, isInternal: isInternal, partitions: partitions)
        }
        return KafkaMetadata(
            throttleTimeMs: throttle, brokers: brokers, clusterId: clusterId,
            controllerId: controllerId, topics: topics)
    }
}

// MARK: - CreateTopics

/// A topic to create with broker-chosen replica placement.
public struct KafkaNewTopic: Equatable, Sendable {
    public let name: String
    public let partitions: Int32
    public let replicationFactor: Int16

    public init(name: String, partitions: Int32, replicationFactor: Int16) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
    }
}

/// Per-topic CreateTopics outcome; TOPIC_ALREADY_EXISTS (36) is usually fine.
public struct KafkaCreateTopicResult: Equatable, Sendable {
    public let name: String
    public let errorCode: Int16
    /// Only sent from v1 on; nil when the broker has nothing to add.
    public let errorMessage: String?
}

/// CreateTopics response.
public struct KafkaCreateTopicsResponse: Equatable, Sendable {
    public let throttleTimeMs: Int32
    public let topics: [KafkaCreateTopicResult]

    /// v2-v4 share one layout: topics (name, partitions, replication factor,
    /// no manual assignments, no configs), timeout, validateOnly=false.
    static func requestBody(topics: [KafkaNewTopic], timeoutMs: Int32, version: Int16) -> [UInt8] {
        var encoder = KafkaEncoder()
        encoder.array(topics) { e, topic in
            e.string(topic.name)
            e.int32(topic.partitions)
            e.int16(topic.replicationFactor)
            e.array([Int32]()) { $0.int32($1) }  // assignments
            e.array([String]()) { $0.string($1) }  // configs
        }
        encoder.int32(timeoutMs)
        encoder.bool(false)  // validateOnly
        return encoder.bytes
    }

    static func decode(_ decoder: inout KafkaDecoder, version: Int16) throws -> KafkaCreateTopicsResponse {
        let throttle = try decoder.int32()
        let topics = try decoder.array { d in
            KafkaCreateTopicResult(name: try d.string(), errorCode: try d.int16(), errorMessage: try d.nullableString())
        }
        return KafkaCreateTopicsResponse(throttleTimeMs: throttle, topics: topics)
    }
}

// MARK: - FindCoordinator

/// The broker coordinating a consumer group.
public struct KafkaCoordinator: Equatable, Sendable {
    public let errorCode: Int16
    public let errorMessage: String?
    public let nodeId: Int32
    public let host: String
    public let port: Int32

    /// v1-v2: key then key type 0 (consumer group).
    static func requestBody(group: String, version: Int16) -> [UInt8] {
        var encoder = KafkaEncoder()
        encoder.string(group)
        encoder.int8(0)
        return encoder.bytes
    }

    static func decode(_ decoder: inout KafkaDecoder, version: Int16) throws -> KafkaCoordinator {
        _ = try decoder.int32()  // throttle time
        return KafkaCoordinator(
            errorCode: try decoder.int16(), errorMessage: try decoder.nullableString(),
            nodeId: try decoder.int32(), host: try decoder.string(), port: try decoder.int32())
    }
}

// MARK: - DescribeGroups

/// A consumer-protocol assignment (ConsumerProtocolAssignment, any version:
/// later versions only append fields): which partitions a member owns.
public struct KafkaMemberAssignment: Equatable, Sendable {
    public let version: Int16
    /// Topic name to partition numbers, sorted.
    public let partitions: [String: [Int32]]
    public let userData: [UInt8]?

    public static func decode(_ bytes: [UInt8]) throws -> KafkaMemberAssignment {
        var decoder = KafkaDecoder(bytes)
        let version = try decoder.int16()
        var partitions: [String: [Int32]] = [:]
        for (topic, numbers) in try decoder.array({ d in (try d.string(), try d.array { try $0.int32() }) }) {
            partitions[topic, default: []].append(contentsOf: numbers)
        }
        for key in partitions.keys {
            partitions[key]?.sort()
        }
        let userData = decoder.remaining >= 4 ? try decoder.nullableBytes() : nil
        return KafkaMemberAssignment(version: version, partitions: partitions, userData: userData)
    }
}

/// A consumer-protocol subscription (the member metadata): the topics a
/// member asked for. Later versions append fields muster does not need.
public struct KafkaMemberSubscription: Equatable, Sendable {
    public let version: Int16
    public let topics: [String]

    public static func decode(_ bytes: [UInt8]) throws -> KafkaMemberSubscription {
        var decoder = KafkaDecoder(bytes)
        let version = try decoder.int16()
        let topics = try decoder.array { try $0.string() }
        return KafkaMemberSubscription(version: version, topics: topics)
    }
}

/// One member of a group in a DescribeGroups response.
public struct KafkaGroupMember: Equatable, Sendable {
    public let memberId: String
    /// Static membership id; nil before v4 or when unset.
    public let groupInstanceId: String?
    public let clientId: String
    public let clientHost: String
    /// Raw protocol metadata (for consumers: the subscription).
    public let metadata: [UInt8]
    /// Raw protocol assignment bytes.
    public let assignmentBytes: [UInt8]
    /// Topic to partitions, decoded for the "consumer" protocol type; empty
    /// while the group is rebalancing; nil for other protocols or bad bytes.
    public let assignment: [String: [Int32]]?
    /// Subscribed topics for the "consumer" protocol type, else nil.
    public let subscribedTopics: [String]?
}

/// One group in a DescribeGroups response.
public struct KafkaGroupDescription: Equatable, Sendable {
    public let errorCode: Int16
    public let groupId: String
    /// "Stable", "Empty", "PreparingRebalance", "CompletingRebalance", "Dead", ...
    public let state: String
    /// "consumer" for consumer groups.
    public let protocolType: String
    /// The assignor in use, e.g. "range".
    public let protocolName: String
    public let members: [KafkaGroupMember]
}

/// DescribeGroups response.
public struct KafkaDescribeGroupsResponse: Equatable, Sendable {
    public let throttleTimeMs: Int32
    public let groups: [KafkaGroupDescription]

    static func requestBody(groups: [String], version: Int16) -> [UInt8] {
        var encoder = KafkaEncoder()
        encoder.array(groups) { $0.string($1) }
        if version >= 3 {
            encoder.bool(false)  // IncludeAuthorizedOperations
        }
        return encoder.bytes
    }

    /// Decodes a v0-v4 response.
    static func decode(_ decoder: inout KafkaDecoder, version: Int16) throws -> KafkaDescribeGroupsResponse {
        let throttle: Int32 = version >= 1 ? try decoder.int32() : 0
        let groups = try decoder.array { d -> KafkaGroupDescription in
            let errorCode = try d.int16()
            let groupId = try d.string()
            let state = try d.string()
            let protocolType = try d.string()
            let protocolName = try d.string()
            let isConsumer = protocolType == "consumer"
            let members = try d.array { m -> KafkaGroupMember in
                let memberId = try m.string()
                let instanceId: String? = version >= 4 ? try m.nullableString() : nil
                let clientId = try m.string()
                let clientHost = try m.string()
                let metadata = try m.nullableBytes() ?? []
                let assignmentBytes = try m.nullableBytes() ?? []
                var assignment: [String: [Int32]]?
                var topics: [String]?
                if isConsumer {
                    assignment =
                        assignmentBytes.isEmpty ? [:] : (try? KafkaMemberAssignment.decode(assignmentBytes))?.partitions
                    topics = (try? KafkaMemberSubscription.decode(metadata))?.topics
                }
                return KafkaGroupMember(
                    memberId: memberId, groupInstanceId: instanceId, clientId: clientId,
                    clientHost: clientHost, metadata: metadata, assignmentBytes: assignmentBytes,
                    assignment: assignment, subscribedTopics: topics)
            }
            if version >= 3 {
                _ = try d.int32()  // authorized operations
            }
            return KafkaGroupDescription(
                errorCode: errorCode, groupId: groupId, state: state,
                protocolType: protocolType, protocolName: protocolName, members: members)
        }
        return KafkaDescribeGroupsResponse(throttleTimeMs: throttle, groups: groups)
    }
}
