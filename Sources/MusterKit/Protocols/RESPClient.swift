import Foundation

/// The few Redis commands muster needs (AUTH, PING, INFO, SHUTDOWN), spoken in RESP
/// over a blocking `TCPConnection`.
public final class RESPClient {
    private let connection: TCPConnection
    private var buffer: [UInt8] = []

    /// `total` bounds the whole exchange (a probe's check), not only each call.
    public init(host: String, port: Int, timeout: Duration, password: String? = nil, total: Duration? = nil) throws {
        connection = try TCPConnection(host: host, port: port, timeout: timeout)
        if let total { connection.deadline = .now + total }
        if let password, !password.isEmpty {
            let reply = try command(["AUTH", password])
            guard case .simple("OK") = reply else { throw NetworkError("AUTH refused by \(connection.endpoint)") }
        }
    }

    deinit { connection.close() }

    public typealias Reply = RESPReply

    public static func encode(_ arguments: [String]) -> [UInt8] {
        var text = "*\(arguments.count)\r\n"
        for argument in arguments { text += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        return Array(text.utf8)
    }

    public func command(_ arguments: [String]) throws -> Reply {
        do {
            try connection.write(Self.encode(arguments))
        } catch let error as NetworkError {
            throw ProtocolError("redis", .closed, "sending \(arguments.first ?? "a command"): \(error.message)")
        }
        return try readReply()
    }

    /// One command whose answer may take at most `limit` (SHUTDOWN's grace).
    public func command(_ arguments: [String], within limit: Duration) throws -> Reply {
        let usual = connection.timeout
        connection.timeout = limit
        defer { connection.timeout = usual }
        return try command(arguments)
    }

    /// Reads one reply, e.g. a pushed pub/sub message after SUBSCRIBE.
    public func readReply() throws -> Reply {
        while true {
            if let (reply, used) = try RESPDecoder.decode(buffer) {
                buffer.removeFirst(used)
                return reply
            }
            let chunk: [UInt8]
            do {
                chunk = try connection.readSome(max: 64 * 1024)
            } catch let error as NetworkError {
                let what =
                    buffer.isEmpty
                    ? "no reply" : "reply cut short after \(buffer.count) bytes (got \(ProtocolError.quoted(buffer)))"
                let reset = error.message.hasPrefix("connection reset")
                throw ProtocolError(
                    "redis", reset ? .closed : buffer.isEmpty ? .stalled : .truncated, "\(what): \(error.message)")
            }
            if chunk.isEmpty {
                let detail =
                    buffer.isEmpty
                    ? "\(connection.endpoint) closed the connection"
                    : "reply truncated at byte \(buffer.count): \(connection.endpoint) closed the connection"
                throw ProtocolError("redis", .closed, detail)
            }
            buffer += chunk
        }
    }

    /// `field:value` lines of an INFO reply.
    public static func infoField(_ field: String, in info: String) -> String? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }
}

/// One RESP2 reply.
public enum RESPReply: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk(String?)
    case array([RESPReply])
}

/// Decodes RESP2 replies from bytes, with every length bounded: a peer cannot make
/// muster buffer more than `ProtocolError.maxMessageSize`, nest arrays without end,
/// or send a line that never ends.
public enum RESPDecoder {
    /// Longest `+`, `-`, `:` or header line.
    static let maxLine = 64 * 1024
    static let maxDepth = 8
    static let maxElements = 1 << 20

    /// The first reply in `bytes` and how many bytes it took; nil when more bytes are needed.
    public static func decode(_ bytes: [UInt8]) throws -> (RESPReply, Int)? {
        var offset = 0
        guard let reply = try reply(bytes, &offset, depth: 0) else { return nil }
        return (reply, offset)
    }

    private static func reply(_ bytes: [UInt8], _ offset: inout Int, depth: Int) throws -> RESPReply? {
        let start = offset
        guard let line = try line(bytes, &offset) else { return nil }
        guard let kind = line.first else {
            throw ProtocolError("redis", .malformed, "empty line at byte \(start); not a RESP reply")
        }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"):
            guard let value = Int(rest) else { throw malformed("integer", rest, at: start) }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(rest), length >= -1 else { throw malformed("bulk length", rest, at: start) }
            if length == -1 { return .bulk(nil) }
            guard length <= ProtocolError.maxMessageSize else {
                throw ProtocolError(
                    "redis", .tooLarge,
                    "bulk string of \(length) bytes at byte \(start), above the \(ProtocolError.maxMessageSize >> 20) MiB muster accepts"
                )
            }
            guard bytes.count - offset >= length + 2 else { return nil }
            guard bytes[offset + length] == 13, bytes[offset + length + 1] == 10 else {
                throw ProtocolError(
                    "redis", .malformed, "bulk string at byte \(start) does not end in CRLF after \(length) bytes")
            }
            let value = String(decoding: bytes[offset..<(offset + length)], as: UTF8.self)
            offset += length + 2
            return .bulk(value)
        case UInt8(ascii: "*"):
            guard let count = Int(rest), count >= -1 else { throw malformed("array length", rest, at: start) }
            guard count <= maxElements else {
                throw ProtocolError(
                    "redis", .tooLarge,
                    "array of \(count) elements at byte \(start), above the \(maxElements) muster accepts")
            }
            guard depth < maxDepth else {
                throw ProtocolError("redis", .tooLarge, "arrays nested deeper than \(maxDepth) at byte \(start)")
            }
            var items: [RESPReply] = []
            for _ in 0..<max(count, 0) {
                guard let item = try reply(bytes, &offset, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw ProtocolError(
                "redis", .malformed, "not a RESP reply: got \(ProtocolError.quoted(line)) at byte \(start)")
        }
    }

    /// A CRLF-terminated line without its CRLF; nil when it has not all arrived.
    private static func line(_ bytes: [UInt8], _ offset: inout Int) throws -> ArraySlice<UInt8>? {
        let window = bytes[offset..<min(bytes.count, offset + maxLine + 2)]
        guard let newline = window.firstIndex(of: 10) else {
            if window.count > maxLine {
                throw ProtocolError(
                    "redis", .tooLarge, "no line end within \(maxLine) bytes at byte \(offset); not a RESP reply")
            }
            if let kind = window.first, !"+-:$*".utf8.contains(kind) {
                throw ProtocolError(
                    "redis", .malformed, "not a RESP reply: got \(ProtocolError.quoted(window)) at byte \(offset)")
            }
            return nil
        }
        guard newline > offset, bytes[newline - 1] == 13 else {
            throw ProtocolError(
                "redis", .malformed,
                "line at byte \(offset) ends without CR: got \(ProtocolError.quoted(bytes[offset...newline]))")
        }
        let line = bytes[offset..<(newline - 1)]
        offset = newline + 1
        return line
    }

    private static func malformed(_ what: String, _ text: String, at offset: Int) -> ProtocolError {
        ProtocolError("redis", .malformed, "bad \(what) \(ProtocolError.quoted(Array(text.utf8))) at byte \(offset)")
    }
}
