import Foundation

/// A Kafka protocol failure: a malformed or truncated frame, an API version
/// the broker and muster do not share, or a broker-level error.
///
/// Kept separate from `NetworkError` so a probe can tell "the port answers but
/// is not (yet) a working Kafka broker" from "nothing listens there". Shown with
/// the protocol's name: `kafka: Metadata v7 response truncated at byte 41 of 96`.
public struct KafkaError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "kafka: " + message }
}

/// Big-endian writer for the classic (non-flexible) Kafka wire types.
///
/// muster only speaks non-flexible API versions, which every broker it
/// targets (Apache Kafka 3.x/4.x, Redpanda, Tansu) still accepts, so compact
/// strings, varints and tagged fields are deliberately left out.
struct KafkaEncoder {
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func int8(_ value: Int8) {
        bytes.append(UInt8(bitPattern: value))
    }

    mutating func int16(_ value: Int16) {
        let bits = UInt16(bitPattern: value)
        bytes.append(UInt8(truncatingIfNeeded: bits >> 8))
        bytes.append(UInt8(truncatingIfNeeded: bits))
    }

    mutating func int32(_ value: Int32) {
        let bits = UInt32(bitPattern: value)
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift)))
        }
    }

    mutating func int64(_ value: Int64) {
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
    }

    mutating func bool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// STRING: int16 length then UTF-8. Longer strings are a programming error
    /// on our side (topic and group names are far shorter), so they are cut.
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8.prefix(Int(Int16.max)))
        int16(Int16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// NULLABLE_STRING: length -1 stands for null.
    mutating func nullableString(_ value: String?) {
        guard let value else {
            int16(-1)
            return
        }
        string(value)
    }

    /// BYTES / NULLABLE_BYTES: int32 length (-1 for null) then the raw bytes.
    mutating func nullableBytes(_ value: [UInt8]?) {
        guard let value else {
            int32(-1)
            return
        }
        int32(Int32(clamping: value.count))
        bytes.append(contentsOf: value)
    }

    /// ARRAY: int32 count then each element; a nil array is sent as -1 (null).
    mutating func array<Element>(_ items: [Element]?, _ encode: (inout KafkaEncoder, Element) -> Void) {
        guard let items else {
            int32(-1)
            return
        }
        int32(Int32(clamping: items.count))
        for item in items {
            encode(&self, item)
        }
    }
}

/// Big-endian reader for the classic (non-flexible) Kafka wire types.
///
/// Every read is bounds-checked and throws `KafkaError` instead of trapping:
/// the bytes come from whatever answers on the probed port.
struct KafkaDecoder {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int, for what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw KafkaError("truncated at byte \(offset) of \(bytes.count) (reading \(what) of \(count) bytes)")
        }
        let slice = bytes[offset..<(offset + count)]
        offset += count
        return slice
    }

    private mutating func unsigned(_ width: Int, for what: String) throws -> UInt64 {
        var value: UInt64 = 0
        for byte in try take(width, for: what) {
            value = value << 8 | UInt64(byte)
        }
        return value
    }

    mutating func int8() throws -> Int8 {
        Int8(truncatingIfNeeded: try unsigned(1, for: "int8"))
    }

    mutating func int16() throws -> Int16 {
        Int16(truncatingIfNeeded: try unsigned(2, for: "int16"))
    }

    mutating func int32() throws -> Int32 {
        Int32(truncatingIfNeeded: try unsigned(4, for: "int32"))
    }

    mutating func int64() throws -> Int64 {
        Int64(bitPattern: try unsigned(8, for: "int64"))
    }

    mutating func bool() throws -> Bool {
        try unsigned(1, for: "bool") != 0
    }

    /// STRING; a null here means the peer broke the schema.
    mutating func string() throws -> String {
        guard let value = try nullableString() else {
            throw KafkaError("has a null string at byte \(offset - 2) of \(bytes.count)")
        }
        return value
    }

    mutating func nullableString() throws -> String? {
        let length = try int16()
        if length == -1 { return nil }
        guard length >= 0 else {
            throw KafkaError("has an invalid string length \(length) at byte \(offset - 2) of \(bytes.count)")
        }
        return String(decoding: try take(Int(length), for: "string"), as: UTF8.self)
    }

    /// NULLABLE_BYTES: nil for length -1.
    mutating func nullableBytes() throws -> [UInt8]? {
        let length = try int32()
        if length == -1 { return nil }
        guard length >= 0 else {
            throw KafkaError("has an invalid bytes length \(length) at byte \(offset - 4) of \(bytes.count)")
        }
        return Array(try take(Int(length), for: "bytes"))
    }

    /// ARRAY; a null array (-1) decodes as empty. The count is checked against
    /// the bytes left (every element takes at least one) so a garbage count
    /// cannot make us reserve gigabytes.
    mutating func array<Element>(_ decode: (inout KafkaDecoder) throws -> Element) throws -> [Element] {
        let count = try int32()
        if count == -1 { return [] }
        guard count >= 0, Int(count) <= remaining else {
            throw KafkaError("has an invalid array length \(count) at byte \(offset - 4) of \(bytes.count)")
        }
        var items: [Element] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count {
            items.append(try decode(&self))
        }
        return items
    }
}

/// Request and response framing shared by every API.
///
/// A request is `int32 size` + header v1 (api key, api version, correlation id,
/// client id) + body; a response to a non-flexible request is `int32 size` +
/// header v0 (correlation id) + body.
enum KafkaFrame {
    /// Largest response muster accepts; probe answers are a few KiB, so a huge
    /// size means the port speaks another protocol (e.g. TLS or HTTP).
    static let maxResponseSize = Int32(ProtocolError.maxMessageSize)

    static func request(apiKey: Int16, apiVersion: Int16, correlationID: Int32, clientID: String?, body: [UInt8])
        -> [UInt8]
    {
        var header = KafkaEncoder()
        header.int16(apiKey)
        header.int16(apiVersion)
        header.int32(correlationID)
        header.nullableString(clientID)
        var frame = KafkaEncoder()
        frame.int32(Int32(clamping: header.bytes.count + body.count))
        return frame.bytes + header.bytes + body
    }

    /// Validates the 4-byte size prefix and returns the payload length.
    static func responseSize(_ prefix: [UInt8]) throws -> Int {
        var decoder = KafkaDecoder(prefix)
        let size = try decoder.int32()
        guard size >= 4, size <= maxResponseSize else {
            let limit = "\(maxResponseSize >> 20) MiB"
            let why = size > maxResponseSize ? "above the \(limit) muster accepts" : "too small for a response"
            throw KafkaError(
                "response size \(size) (bytes \(ProtocolError.quoted(prefix))) is \(why); not a Kafka broker?")
        }
        return Int(size)
    }

    /// Checks the response header and returns a decoder positioned at the body.
    static func responseBody(_ payload: [UInt8], expecting correlationID: Int32) throws -> KafkaDecoder {
        var decoder = KafkaDecoder(payload)
        let received = try decoder.int32()
        guard received == correlationID else {
            throw KafkaError("response correlation id \(received) does not match request \(correlationID)")
        }
        return decoder
    }
}
