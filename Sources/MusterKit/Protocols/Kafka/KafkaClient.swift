import Foundation

/// A minimal synchronous Kafka client for readiness probes and topic setup.
///
/// muster must check "is the broker up, are my topics there with leaders, is
/// my consumer group stable" without pulling in librdkafka, so this speaks just
/// the handful of APIs needed over one `TCPConnection`. Versions are negotiated
/// from the broker's ApiVersions answer (fetched once, on first use), so the
/// same code works against Apache Kafka 3.x/4.x, Redpanda and Tansu.
public final class KafkaClient {
    public let host: String
    public let port: Int
    public let timeout: Duration
    public let clientID: String

    private let connection: TCPConnection
    private var nextCorrelationID: Int32 = 1
    private var brokerVersions: KafkaAPIVersions?

    /// Connects to one broker (the bootstrap server). Throws `NetworkError`.
    /// `total` bounds every exchange of this client together (a probe's check).
    public init(
        host: String, port: Int, timeout: Duration = .seconds(5), clientID: String = "muster", total: Duration? = nil
    ) throws {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.clientID = clientID
        self.connection = try TCPConnection(host: host, port: port, timeout: timeout)
        if let total { connection.deadline = .now + total }
    }

    /// Closes the connection; the client is unusable afterwards.
    public func close() {
        connection.close()
    }

    // MARK: - APIs

    /// Asks the broker which API versions it supports, and remembers the
    /// answer for version negotiation. Doubles as the cheapest "is this a
    /// Kafka broker" probe.
    public func apiVersions() throws -> KafkaAPIVersions {
        let preferred = KafkaAPI.apiVersions.implementedVersions.upperBound
        var answer = try send(.apiVersions, version: preferred, body: KafkaAPIVersions.requestBody(version: preferred))
        {
            try KafkaAPIVersions.decode(&$0, version: preferred)
        }
        // An older broker answers UNSUPPORTED_VERSION with its own range; retry within it.
        if answer.errorCode == 35, let range = answer.range(of: KafkaAPI.apiVersions.rawValue) {
            let version = min(range.maxVersion, preferred)
            guard version >= 0 else { throw KafkaError("broker rejected ApiVersions: \(KafkaClient.errorName(35))") }
            answer = try send(.apiVersions, version: version, body: KafkaAPIVersions.requestBody(version: version)) {
                try KafkaAPIVersions.decode(&$0, version: version)
            }
        }
        guard answer.errorCode == 0 else {
            throw KafkaError("ApiVersions failed: \(KafkaClient.errorName(answer.errorCode))")
        }
        brokerVersions = answer
        return answer
    }

    /// Cluster metadata. `topics` nil lists every topic; a named topic that
    /// does not exist comes back with UNKNOWN_TOPIC_OR_PARTITION (3) and is
    /// never auto-created.
    public func metadata(topics: [String]?) throws -> KafkaMetadata {
        let version = try negotiatedVersion(.metadata)
        return try send(.metadata, version: version, body: KafkaMetadata.requestBody(topics: topics, version: version))
        {
            try KafkaMetadata.decode(&$0, version: version)
        }
    }

    /// Creates topics, returning one result per topic. Callers usually treat
    /// TOPIC_ALREADY_EXISTS (36) as success. Must reach the controller on
    /// Kafka; on KRaft clusters any broker forwards it.
    public func createTopics(
        _ topics: [(name: String, partitions: Int, replicationFactor: Int)],
        timeoutMs: Int = 10_000
    ) throws -> [KafkaCreateTopicResult] {
        let specs = try topics.map { topic -> KafkaNewTopic in
            guard let partitions = Int32(exactly: topic.partitions), partitions > 0 || partitions == -1,
                let replication = Int16(exactly: topic.replicationFactor), replication > 0 || replication == -1
            else {
                throw KafkaError(
                    "invalid topic spec \(topic.name): \(topic.partitions) partitions, replication \(topic.replicationFactor)"
                )
            }
            return KafkaNewTopic(name: topic.name, partitions: partitions, replicationFactor: replication)
        }
        let version = try negotiatedVersion(.createTopics)
        let body = KafkaCreateTopicsResponse.requestBody(
            topics: specs, timeoutMs: Int32(clamping: timeoutMs), version: version)
        return try send(.createTopics, version: version, body: body) {
            try KafkaCreateTopicsResponse.decode(&$0, version: version)
        }.topics
    }

    /// The coordinator broker of consumer group `group`. Check `errorCode`:
    /// COORDINATOR_NOT_AVAILABLE (15) is normal while a broker starts.
    public func findCoordinator(group: String) throws -> KafkaCoordinator {
        let version = try negotiatedVersion(.findCoordinator)
        return try send(
            .findCoordinator, version: version, body: KafkaCoordinator.requestBody(group: group, version: version)
        ) {
            try KafkaCoordinator.decode(&$0, version: version)
        }
    }

    /// Describes consumer groups, each asked of its own coordinator (found
    /// with FindCoordinator), as Kafka requires. A group whose coordinator
    /// cannot be found is returned with that error code and an empty state.
    /// Results come back in the order of `groups`.
    public func describeGroups(_ groups: [String]) throws -> [KafkaGroupDescription] {
        var results: [String: KafkaGroupDescription] = [:]
        var byCoordinator: [String: (coordinator: KafkaCoordinator, groups: [String])] = [:]
        var order: [String] = []
        for group in groups {
            let coordinator = try findCoordinator(group: group)
            if coordinator.errorCode != 0 {
                results[group] = KafkaGroupDescription(
                    errorCode: coordinator.errorCode, groupId: group, state: "",
                    protocolType: "", protocolName: "", members: [])
                continue
            }
            let key = "\(coordinator.host):\(coordinator.port)"
            if byCoordinator[key] == nil {
                byCoordinator[key] = (coordinator, [])
                order.append(key)
            }
            byCoordinator[key]?.groups.append(group)
        }
        for key in order {
            guard let entry = byCoordinator[key] else { continue }
            for description in try describeGroups(entry.groups, at: entry.coordinator) {
                results[description.groupId] = description
            }
        }
        return groups.compactMap { results[$0] }
    }

    /// Sends DescribeGroups to this client's own broker, without looking up
    /// the coordinator first (the answer is NOT_COORDINATOR, 16, if wrong).
    public func describeGroupsOnThisBroker(_ groups: [String]) throws -> [KafkaGroupDescription] {
        let version = try negotiatedVersion(.describeGroups)
        return try send(
            .describeGroups, version: version,
            body: KafkaDescribeGroupsResponse.requestBody(groups: groups, version: version)
        ) {
            try KafkaDescribeGroupsResponse.decode(&$0, version: version)
        }.groups
    }

    /// Readable name of a Kafka error code, e.g. 36 -> "TOPIC_ALREADY_EXISTS".
    public static func errorName(_ code: Int16) -> String {
        switch code {
        case -1: return "UNKNOWN_SERVER_ERROR"
        case 0: return "NONE"
        case 1: return "OFFSET_OUT_OF_RANGE"
        case 2: return "CORRUPT_MESSAGE"
        case 3: return "UNKNOWN_TOPIC_OR_PARTITION"
        case 5: return "LEADER_NOT_AVAILABLE"
        case 6: return "NOT_LEADER_OR_FOLLOWER"
        case 7: return "REQUEST_TIMED_OUT"
        case 8: return "BROKER_NOT_AVAILABLE"
        case 9: return "REPLICA_NOT_AVAILABLE"
        case 13: return "NETWORK_EXCEPTION"
        case 14: return "COORDINATOR_LOAD_IN_PROGRESS"
        case 15: return "COORDINATOR_NOT_AVAILABLE"
        case 16: return "NOT_COORDINATOR"
        case 17: return "INVALID_TOPIC_EXCEPTION"
        case 19: return "NOT_ENOUGH_REPLICAS"
        case 22: return "ILLEGAL_GENERATION"
        case 23: return "INCONSISTENT_GROUP_PROTOCOL"
        case 24: return "INVALID_GROUP_ID"
        case 25: return "UNKNOWN_MEMBER_ID"
        case 26: return "INVALID_SESSION_TIMEOUT"
        case 27: return "REBALANCE_IN_PROGRESS"
        case 29: return "TOPIC_AUTHORIZATION_FAILED"
        case 30: return "GROUP_AUTHORIZATION_FAILED"
        case 31: return "CLUSTER_AUTHORIZATION_FAILED"
        case 33: return "UNSUPPORTED_SASL_MECHANISM"
        case 34: return "ILLEGAL_SASL_STATE"
        case 35: return "UNSUPPORTED_VERSION"
        case 36: return "TOPIC_ALREADY_EXISTS"
        case 37: return "INVALID_PARTITIONS"
        case 38: return "INVALID_REPLICATION_FACTOR"
        case 39: return "INVALID_REPLICA_ASSIGNMENT"
        case 40: return "INVALID_CONFIG"
        case 41: return "NOT_CONTROLLER"
        case 42: return "INVALID_REQUEST"
        case 43: return "POLICY_VIOLATION"
        case 58: return "SASL_AUTHENTICATION_FAILED"
        case 68: return "NON_EMPTY_GROUP"
        case 69: return "GROUP_ID_NOT_FOUND"
        case 72: return "LISTENER_NOT_FOUND"
        case 89: return "THROTTLING_QUOTA_EXCEEDED"
        default: return "KAFKA_ERROR_\(code)"
        }
    }

    // MARK: - Private

    /// The coordinator's address as advertised by the cluster may not be
    /// reachable from here (e.g. a container hostname); if connecting fails
    /// the bootstrap broker is asked instead, which is right for the common
    /// single-broker dev stack and otherwise answers NOT_COORDINATOR.
    private func describeGroups(_ groups: [String], at coordinator: KafkaCoordinator) throws -> [KafkaGroupDescription]
    {
        if coordinator.host == host && Int(coordinator.port) == port {
            return try describeGroupsOnThisBroker(groups)
        }
        let other: KafkaClient
        do {
            other = try KafkaClient(
                host: coordinator.host, port: Int(coordinator.port), timeout: timeout, clientID: clientID)
        } catch is NetworkError {
            return try describeGroupsOnThisBroker(groups)
        }
        defer { other.close() }
        return try other.describeGroupsOnThisBroker(groups)
    }

    private func negotiatedVersion(_ api: KafkaAPI) throws -> Int16 {
        let versions = try brokerVersions ?? apiVersions()
        return try versions.negotiate(api)
    }

    /// One request/response round trip; the decoder is positioned at the body.
    private func send<Response>(
        _ api: KafkaAPI, version: Int16, body: [UInt8],
        decode: (inout KafkaDecoder) throws -> Response
    ) throws -> Response {
        let correlationID = nextCorrelationID
        nextCorrelationID = nextCorrelationID == Int32.max ? 1 : nextCorrelationID + 1
        let request = KafkaFrame.request(
            apiKey: api.rawValue, apiVersion: version, correlationID: correlationID,
            clientID: clientID, body: body)
        do {
            try connection.write(request)
        } catch let error as NetworkError {
            throw KafkaError("\(api.name) v\(version) request: \(error.message)")
        }
        let what = "\(api.name) v\(version) response"
        let payload: [UInt8]
        do {
            let size = try KafkaFrame.responseSize(try connection.read(exactly: 4))
            payload = try connection.read(exactly: size)
        } catch let error as NetworkError {
            throw KafkaError("\(what): \(error.message)")
        } catch let error as KafkaError {
            throw KafkaError("\(what): \(error.message)")
        }
        do {
            var decoder = try KafkaFrame.responseBody(payload, expecting: correlationID)
            return try decode(&decoder)
        } catch let error as KafkaError {
            let joiner = error.message.hasPrefix("truncated") || error.message.hasPrefix("has") ? " " : ": "
            throw KafkaError("\(what) from \(connection.endpoint)\(joiner)\(error.message)")
        }
    }
}
