import Foundation

/// The few Redis commands muster needs (AUTH, PING, INFO), spoken in RESP over a
/// blocking `TCPConnection`.
public final class RESPClient {
    private let connection: TCPConnection
    private var buffer: [UInt8] = []

    public init(host: String, port: Int, timeout: Duration, password: String? = nil) throws {
        connection = try TCPConnection(host: host, port: port, timeout: timeout)
        if let password, !password.isEmpty {
            let reply = try command(["AUTH", password])
            guard case .simple("OK") = reply else { throw NetworkError("AUTH refused by \(connection.endpoint)") }
        }
    }

    deinit { connection.close() }

    public enum Reply: Equatable {
        case simple(String)
        case error(String)
        case integer(Int)
        case bulk(String?)
        case array([Reply])
    }

    public static func encode(_ arguments: [String]) -> [UInt8] {
        var text = "*\(arguments.count)\r\n"
        for argument in arguments { text += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        return Array(text.utf8)
    }

    public func command(_ arguments: [String]) throws -> Reply {
        try connection.write(Self.encode(arguments))
        return try readReply()
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 10), index > 0, buffer[index - 1] == 13 {
                let line = String(decoding: buffer[0..<(index - 1)], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line
            }
            let chunk = try connection.readSome(max: 16 * 1024)
            if chunk.isEmpty { throw NetworkError("\(connection.endpoint) closed the connection") }
            buffer += chunk
        }
    }

    /// Reads one reply, e.g. a pushed pub/sub message after SUBSCRIBE.
    public func readReply() throws -> Reply {
        let line = try readLine()
        guard let kind = line.first else { throw NetworkError("empty reply from \(connection.endpoint)") }
        let rest = String(line.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":": return .integer(Int(rest) ?? 0)
        case "$":
            guard let length = Int(rest) else { throw NetworkError("bad bulk length from \(connection.endpoint)") }
            if length < 0 { return .bulk(nil) }
            while buffer.count < length + 2 {
                let chunk = try connection.readSome(max: 64 * 1024)
                if chunk.isEmpty { throw NetworkError("\(connection.endpoint) closed the connection") }
                buffer += chunk
            }
            let value = String(decoding: buffer[0..<length], as: UTF8.self)
            buffer.removeFirst(length + 2)
            return .bulk(value)
        case "*":
            guard let count = Int(rest) else { throw NetworkError("bad array length from \(connection.endpoint)") }
            return .array(try (0..<max(count, 0)).map { _ in try readReply() })
        default:
            throw NetworkError("\(connection.endpoint) does not speak RESP (got \"\(line.prefix(40))\")")
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
