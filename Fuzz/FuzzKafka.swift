import Foundation

/// A Kafka response as KafkaClient reads it: the 4-byte size prefix, the
/// correlation id, then the body decoder of `api`. The first input byte picks
/// the API version (within what muster implements), the rest is the frame as
/// it came off the socket.
func fuzzKafka(_ api: KafkaAPI, _ bytes: [UInt8]) {
    guard bytes.count >= 5 else { return }
    let versions = api.implementedVersions
    let version = versions.lowerBound + Int16(bytes[0]) % Int16(versions.count)
    let frame = Array(bytes.dropFirst())
    guard let size = try? KafkaFrame.responseSize(Array(frame.prefix(4))) else { return }
    let payload = Array(frame.dropFirst(4).prefix(size))
    guard payload.count >= 4 else { return }
    let correlationID = Int32(
        bitPattern: UInt32(payload[0]) << 24 | UInt32(payload[1]) << 16 | UInt32(payload[2]) << 8 | UInt32(payload[3]))
    guard var decoder = try? KafkaFrame.responseBody(payload, expecting: correlationID) else { return }
    switch api {
    case .apiVersions:
        if let versions = try? KafkaAPIVersions.decode(&decoder, version: version) {
            for api in KafkaAPI.allCases { _ = try? versions.negotiate(api) }
        }
    case .metadata: _ = try? KafkaMetadata.decode(&decoder, version: version)
    case .createTopics: _ = try? KafkaCreateTopicsResponse.decode(&decoder, version: version)
    case .findCoordinator: _ = try? KafkaCoordinator.decode(&decoder, version: version)
    case .describeGroups: _ = try? KafkaDescribeGroupsResponse.decode(&decoder, version: version)
    }
}
