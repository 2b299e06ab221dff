import Testing
@testable import MusterKit

/// Decodes a hex string (whitespace ignored) into bytes; traps on bad test data only.
private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex length")
    let bytes = stride(from: 0, to: digits.count, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
    precondition(bytes.count * 2 == digits.count, "bad hex digit")
    return bytes
}

/// Response payloads (after the 4-byte size prefix, correlation id 7) recorded
/// from Tansu 0.6.0 on 127.0.0.1:49092, topic "orders" with 3 partitions.
private enum Recorded {
    static let apiVersionsV2 = """
        00000007000000000024000b00000009004b00000000003c0000000100320000000000000000000b000c00000004\
        001100000001001d00000003003300000000001e00000003001200000004000900000009002400000002000100000011\
        002e00000000001600000005001900000004000800000009001c00000004001300000007001a0000000400450000000000\
        150000000200030000000c001800000005000f00000005000200000009004700000000002c00000001001400000006000a\
        00000006002a00000002000d00000005001000000005002000000004000e0000000500000000
        """
    static let metadataV7 = """
        0000000700000000000000010000006f00093132372e302e302e310000bfc4ffff000d74616e73755f636c7573746572\
        0000006f00000001000000066f726465727300000000030000000000000000006f00000000000000010000006f00000001\
        0000006f000000000000000000010000006f00000000000000010000006f000000010000006f0000000000000000000200\
        00006f00000000000000010000006f000000010000006f00000000
        """
    static let metadataV4 = """
        0000000700000000000000010000006f00093132372e302e302e310000bfc4ffff000d74616e73755f636c7573746572\
        0000006f00000001000000066f726465727300000000030000000000000000006f000000010000006f000000010000006f\
        0000000000010000006f000000010000006f000000010000006f0000000000020000006f000000010000006f0000000100\
        00006f
        """
    static let createTopicsV4AlreadyExists = """
        00000007000000000000000100066f726465727300240024546f70696320776974682074686973206e616d6520616c72\
        65616479206578697374732e
        """
    static let findCoordinatorV2 = "0000000700000000000000044e4f4e450000006f00093132372e302e302e310000bfc4"
    /// Tansu lists the live member but with empty client id, host, metadata and assignment.
    static let describeGroupsV4 = """
        0000000700000000000000010000000267310006537461626c650008636f6e73756d6572000000000001002f7079636f\
        6e73756d65722d30333131626165392d643434372d346231392d383066382d656163316136653663343534ffff0000000000\
        00000000000000ffffffff
        """
    static let describeGroupsV0 = """
        00000007000000010000000267310006537461626c650008636f6e73756d6572000000000001002f7079636f6e73756d\
        65722d30333131626165392d643434372d346231392d383066382d656163316136653663343534000000000000000000000000
        """
}

/// Hand-built in the layout Apache Kafka uses: a v1 subscription to
/// orders+payments and a v1 assignment of orders [2, 0] and payments [1].
private enum Synthetic {
    static let subscription = "00010000000200066f726465727300087061796d656e7473ffffffff00000000"
    static let assignment =
        "00010000000200066f726465727300000002000000020000000000087061796d656e74730000000100000001ffffffff"
    static let describeGroupsV4 = """
        0000000700000000000000010000000267310006537461626c650008636f6e73756d6572000572616e676500000001000e\
        636f6e73756d65722d312d61626300087374617469632d31000772646b61666b61000a2f3132372e302e302e310000002000\
        010000000200066f726465727300087061796d656e7473ffffffff000000000000003000010000000200066f726465727300\
        000002000000020000000000087061796d656e74730000000100000001ffffffff80000000
        """
}

/// Decoder positioned at the body of a recorded payload.
private func body(_ payload: String) throws -> KafkaDecoder {
    try KafkaFrame.responseBody(hex(payload), expecting: 7)
}

@Suite("Kafka wire primitives")
struct KafkaPrimitiveTests {
    @Test func encodesBigEndianIntegers() {
        var e = KafkaEncoder()
        e.int8(-2)
        e.int16(0x0102)
        e.int32(-2)
        e.int64(0x0102_0304_0506_0708)
        e.bool(true)
        #expect(e.bytes == hex("fe 0102 fffffffe 0102030405060708 01"))
    }

    @Test func encodesStringsBytesAndArrays() {
        var e = KafkaEncoder()
        e.string("ab")
        e.nullableString(nil)
        e.nullableBytes([9])
        e.nullableBytes(nil)
        e.array([Int32(1), 2]) { $0.int32($1) }
        e.array(nil as [Int32]?) { $0.int32($1) }
        #expect(e.bytes == hex("00026162 ffff 0000000109 ffffffff 00000002 00000001 00000002 ffffffff"))
    }

    @Test func decodesWhatItEncodes() throws {
        var d = KafkaDecoder(
            hex("fe 8000 80000000 ffffffffffffffff 00 0003616263 ffff 00000002beef ffffffff 0000000100000007"))
        #expect(try d.int8() == -2)
        #expect(try d.int16() == Int16.min)
        #expect(try d.int32() == Int32.min)
        #expect(try d.int64() == -1)
        #expect(try d.bool() == false)
        #expect(try d.string() == "abc")
        #expect(try d.nullableString() == nil)
        #expect(try d.nullableBytes() == [0xbe, 0xef])
        #expect(try d.nullableBytes() == nil)
        #expect(try d.array { try $0.int32() } == [7])
        #expect(d.remaining == 0)
    }

    @Test func rejectsTruncatedAndAbsurdData() {
        var short = KafkaDecoder([0x00, 0x01])
        #expect(throws: KafkaError.self) { try short.int32() }
        var cutString = KafkaDecoder(hex("0005 6162"))
        #expect(throws: KafkaError.self) { try cutString.string() }
        var nullString = KafkaDecoder(hex("ffff"))
        #expect(throws: KafkaError.self) { try nullString.string() }
        var hugeArray = KafkaDecoder(hex("7fffffff 00000000"))
        #expect(throws: KafkaError.self) { try hugeArray.array { try $0.int32() } }
        var negativeArray = KafkaDecoder(hex("fffffffe"))
        #expect(throws: KafkaError.self) { try negativeArray.array { try $0.int8() } }
    }

    @Test func framesRequestsWithHeaderV1() {
        let frame = KafkaFrame.request(apiKey: 18, apiVersion: 2, correlationID: 7, clientID: "muster", body: [])
        #expect(frame == hex("00000010 0012 0002 00000007 0006 6d7573746572"))
    }

    @Test func checksResponseSizeAndCorrelation() throws {
        #expect(try KafkaFrame.responseSize(hex("0000012c")) == 300)
        #expect(throws: KafkaError.self) { try KafkaFrame.responseSize(hex("48545450")) }  // "HTTP"
        #expect(throws: KafkaError.self) { try KafkaFrame.responseSize(hex("00000002")) }
        #expect(throws: KafkaError.self) { try KafkaFrame.responseBody(hex("00000008 0000"), expecting: 7) }
        var d = try KafkaFrame.responseBody(hex("00000007 0001"), expecting: 7)
        #expect(try d.int16() == 1)
    }
}

@Suite("Kafka requests")
struct KafkaRequestEncodingTests {
    /// Whole frames, byte for byte as sent to (and accepted by) Tansu.
    @Test func metadataRequestForOneTopic() {
        let frame = KafkaFrame.request(
            apiKey: 3, apiVersion: 7, correlationID: 7, clientID: "muster",
            body: KafkaMetadata.requestBody(topics: ["orders"], version: 7))
        #expect(frame == hex("0000001d000300070000000700066d75737465720000000100066f726465727300"))
    }

    @Test func metadataRequestForAllTopicsSendsNullArray() {
        #expect(KafkaMetadata.requestBody(topics: nil, version: 4) == hex("ffffffff 00"))
        #expect(KafkaMetadata.requestBody(topics: [], version: 4) == hex("00000000 00"))
    }

    @Test func createTopicsRequest() {
        let body = KafkaCreateTopicsResponse.requestBody(
            topics: [KafkaNewTopic(name: "orders", partitions: 3, replicationFactor: 1)], timeoutMs: 5000, version: 4)
        let frame = KafkaFrame.request(apiKey: 19, apiVersion: 4, correlationID: 7, clientID: "muster", body: body)
        #expect(
            frame
                == hex(
                    "0000002f001300040000000700066d75737465720000000100066f726465727300000003000100000000000000000000138800"
                ))
    }

    @Test func findCoordinatorRequest() {
        let frame = KafkaFrame.request(
            apiKey: 10, apiVersion: 2, correlationID: 7, clientID: "muster",
            body: KafkaCoordinator.requestBody(group: "g1", version: 2))
        #expect(frame == hex("00000015000a00020000000700066d75737465720002673100"))
    }

    @Test func describeGroupsRequestAddsAuthorizedOperationsFlagFromV3() {
        #expect(KafkaDescribeGroupsResponse.requestBody(groups: ["g1"], version: 4) == hex("00000001 00026731 00"))
        #expect(KafkaDescribeGroupsResponse.requestBody(groups: ["g1"], version: 2) == hex("00000001 00026731"))
    }
}

@Suite("Kafka responses")
struct KafkaResponseDecodingTests {
    @Test func apiVersionsFromTansu() throws {
        var d = try body(Recorded.apiVersionsV2)
        let versions = try KafkaAPIVersions.decode(&d, version: 2)
        #expect(versions.errorCode == 0)
        #expect(versions.throttleTimeMs == 0)
        #expect(versions.apis.count == 36)
        #expect(versions.range(of: 3) == KafkaAPIVersionRange(apiKey: 3, minVersion: 0, maxVersion: 12))
        #expect(versions.range(of: 19) == KafkaAPIVersionRange(apiKey: 19, minVersion: 0, maxVersion: 7))
        #expect(versions.range(of: 99) == nil)
        #expect(d.remaining == 0)
        #expect(try versions.negotiate(.metadata) == 7)
        #expect(try versions.negotiate(.createTopics) == 4)
        #expect(try versions.negotiate(.findCoordinator) == 2)
        #expect(try versions.negotiate(.describeGroups) == 4)
        #expect(try versions.negotiate(.apiVersions) == 2)
    }

    @Test func apiVersionsUnsupportedVersionUsesV0Layout() throws {
        var d = KafkaDecoder(hex("0023 00000001 0012 0000 0002"))
        let versions = try KafkaAPIVersions.decode(&d, version: 2)
        #expect(versions.errorCode == 35)
        #expect(versions.apis == [KafkaAPIVersionRange(apiKey: 18, minVersion: 0, maxVersion: 2)])
    }

    @Test func negotiationPicksHighestCommonVersionOrFails() throws {
        let old = KafkaAPIVersions(
            errorCode: 0,
            apis: [
                KafkaAPIVersionRange(apiKey: 3, minVersion: 0, maxVersion: 5),
                KafkaAPIVersionRange(apiKey: 19, minVersion: 0, maxVersion: 1),
            ], throttleTimeMs: 0)
        #expect(try old.negotiate(.metadata) == 5)
        #expect(throws: KafkaError.self) { try old.negotiate(.createTopics) }
        #expect(throws: KafkaError.self) { try old.negotiate(.describeGroups) }
    }

    @Test func metadataV7FromTansu() throws {
        var d = try body(Recorded.metadataV7)
        let metadata = try KafkaMetadata.decode(&d, version: 7)
        #expect(metadata.brokers == [KafkaBroker(nodeId: 111, host: "127.0.0.1", port: 49092, rack: nil)])
        #expect(metadata.clusterId == "tansu_cluster")
        #expect(metadata.controllerId == 111)
        let orders = try #require(metadata.topic("orders"))
        #expect(orders.errorCode == 0)
        #expect(orders.isInternal == false)
        #expect(orders.partitions.map(\.partition) == [0, 1, 2])
        #expect(
            orders.partitions.allSatisfy {
                $0.leaderId == 111 && $0.leaderEpoch == 0 && $0.replicas == [111] && $0.isr == [111]
            })
        #expect(d.remaining == 0)
    }

    @Test func metadataV4HasNoEpochOrOfflineReplicas() throws {
        var d = try body(Recorded.metadataV4)
        let metadata = try KafkaMetadata.decode(&d, version: 4)
        let orders = try #require(metadata.topic("orders"))
        #expect(orders.partitions.count == 3)
        #expect(
            orders.partitions.allSatisfy { $0.leaderId == 111 && $0.leaderEpoch == -1 && $0.offlineReplicas.isEmpty })
        #expect(d.remaining == 0)
        // The v7 bytes are not a valid v4 message: decoding must not silently succeed as v4.
        var wrong = try body(Recorded.metadataV7)
        let misread = try? KafkaMetadata.decode(&wrong, version: 4)
        #expect(misread == nil || wrong.remaining != 0)
    }

    @Test func createTopicsAlreadyExists() throws {
        var d = try body(Recorded.createTopicsV4AlreadyExists)
        let response = try KafkaCreateTopicsResponse.decode(&d, version: 4)
        #expect(
            response.topics == [
                KafkaCreateTopicResult(
                    name: "orders", errorCode: 36, errorMessage: "Topic with this name already exists.")
            ])
        #expect(KafkaClient.errorName(response.topics[0].errorCode) == "TOPIC_ALREADY_EXISTS")
    }

    @Test func findCoordinatorFromTansu() throws {
        var d = try body(Recorded.findCoordinatorV2)
        let coordinator = try KafkaCoordinator.decode(&d, version: 2)
        #expect(
            coordinator
                == KafkaCoordinator(errorCode: 0, errorMessage: "NONE", nodeId: 111, host: "127.0.0.1", port: 49092))
        #expect(d.remaining == 0)
    }

    @Test(arguments: [(Recorded.describeGroupsV4, Int16(4)), (Recorded.describeGroupsV0, Int16(0))])
    func describeGroupsFromTansu(payload: String, version: Int16) throws {
        var d = try body(payload)
        let response = try KafkaDescribeGroupsResponse.decode(&d, version: version)
        #expect(d.remaining == 0)
        let group = try #require(response.groups.first)
        #expect(group.groupId == "g1")
        #expect(group.errorCode == 0)
        #expect(group.state == "Stable")
        #expect(group.protocolType == "consumer")
        #expect(group.protocolName == "")
        #expect(group.members.count == 1)
        let member = try #require(group.members.first)
        #expect(member.memberId == "pyconsumer-0311bae9-d447-4b19-80f8-eac1a6e6c454")
        #expect(member.groupInstanceId == nil)
        #expect(member.assignmentBytes.isEmpty)
        #expect(member.assignment == [:])
    }

    @Test func describeGroupsWithConsumerAssignment() throws {
        var d = try body(Synthetic.describeGroupsV4)
        let response = try KafkaDescribeGroupsResponse.decode(&d, version: 4)
        #expect(d.remaining == 0)
        let group = try #require(response.groups.first)
        #expect(group.state == "Stable")
        #expect(group.protocolName == "range")
        let member = try #require(group.members.first)
        #expect(member.memberId == "consumer-1-abc")
        #expect(member.groupInstanceId == "static-1")
        #expect(member.clientId == "rdkafka")
        #expect(member.clientHost == "/127.0.0.1")
        #expect(member.subscribedTopics == ["orders", "payments"])
        #expect(member.assignment == ["orders": [0, 2], "payments": [1]])
    }

    @Test func memberAssignmentAndSubscription() throws {
        let assignment = try KafkaMemberAssignment.decode(hex(Synthetic.assignment))
        #expect(assignment.version == 1)
        #expect(assignment.partitions == ["orders": [0, 2], "payments": [1]])
        #expect(assignment.userData == nil)
        let subscription = try KafkaMemberSubscription.decode(hex(Synthetic.subscription))
        #expect(subscription.topics == ["orders", "payments"])
        #expect(throws: KafkaError.self) { try KafkaMemberAssignment.decode(hex("0000 00000001 0006 6f72")) }
    }

    @Test func errorNames() {
        #expect(KafkaClient.errorName(0) == "NONE")
        #expect(KafkaClient.errorName(3) == "UNKNOWN_TOPIC_OR_PARTITION")
        #expect(KafkaClient.errorName(15) == "COORDINATOR_NOT_AVAILABLE")
        #expect(KafkaClient.errorName(36) == "TOPIC_ALREADY_EXISTS")
        #expect(KafkaClient.errorName(1234) == "KAFKA_ERROR_1234")
    }

    @Test func durationsFormatForMessages() {
        #expect(TCPConnection.format(.seconds(1)) == "1s")
        #expect(TCPConnection.format(.milliseconds(250)) == "250ms")
        #expect(TCPConnection.format(.milliseconds(1500)) == "1.5s")
    }
}
