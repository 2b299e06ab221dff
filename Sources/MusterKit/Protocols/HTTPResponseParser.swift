import Foundation

/// Reads one HTTP/1.x response from bytes as they arrive (RFC 9112): interim `1xx`
/// responses are skipped; the final one's body is framed by chunked transfer coding
/// (extensions and trailers read and dropped), by `Content-Length`, or by the close of
/// the connection, and handed out piece by piece as it arrives. Pure: the one HTTP
/// client feeds it what the socket gave (TCP, TLS or the control socket); probes
/// collect the body, the control API's event stream takes each piece as it comes.
/// Bounded: the head by `Limits.head`, the whole body by `Limits.body` when set.
struct HTTPResponseParser {
    struct Limits {
        var head = 64 * 1024
        /// nil for a stream read piece by piece (the control API's logs and events).
        var body: Int?

        /// A health endpoint's answer: larger bodies are not one.
        static let probe = Limits(body: 256 * 1024)
        static let stream = Limits(body: nil)
    }

    struct Head: Equatable {
        var status: Int
        var minorVersion: Int
        var fields: [Field]
        /// The connection may carry another request once this response is read.
        var keepAlive: Bool

        struct Field: Equatable {
            var name: String
            var value: String
        }

        func field(_ name: String) -> String? {
            fields.first { $0.name.lowercased() == name }?.value
        }
    }

    enum Event: Equatable {
        case head(Head)
        case body([UInt8])
        /// The response is complete; bytes after it belong to the next one.
        case end
    }

    struct Failure: Error, Equatable, CustomStringConvertible {
        var problem: ProtocolError.Problem
        var text: String
        /// The first bytes received, for a message about what answered instead.
        var received: [UInt8] = []
        /// What answered is not HTTP/1.x at all.
        var notHTTP = false

        var description: String { text }
    }

    let limits: Limits
    private var buffer: [UInt8] = []
    private var offset = 0
    private var state = State.head
    private var peerClosed = false
    private var bodyCount = 0
    private var anyByte = false
    private var closeDelimited = false
    private var keepAlive = false
    /// Where the search for the end of the head (and of its status line) goes on: bytes
    /// before it were searched, so a head arriving a byte at a time is scanned once.
    private var headScan = 0
    private var lineScan = 0

    private enum State: Equatable {
        case head
        case sized(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers(read: Int)
        case untilClose
        case done
    }

    init(limits: Limits) {
        self.limits = limits
    }

    /// Bytes that arrived from the peer.
    mutating func append(_ bytes: some Collection<UInt8>) {
        if offset > 0, offset >= buffer.count / 2 {
            buffer.removeFirst(offset)
            headScan = max(0, headScan - offset)
            lineScan = max(0, lineScan - offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
        anyByte = anyByte || !bytes.isEmpty
    }

    /// The peer closed the connection: a body framed by the close ends, anything
    /// else still open was cut short.
    mutating func peerDidClose() {
        peerClosed = true
    }

    /// A whole status line arrived (what a stalled peer's message names).
    var sawStatusLine: Bool { state != .head || find(Self.crlf) != nil }

    /// True once `.end` was returned: the response is complete.
    var isComplete: Bool { state == .done }

    /// The connection can carry another request (the response ended by its framing).
    var reusable: Bool { state == .done && keepAlive && !closeDelimited && !peerClosed && offset == buffer.count }

    private var available: Int { buffer.count - offset }

    /// The next piece of the response; nil when more bytes are needed.
    mutating func next() throws(Failure) -> Event? {
        while true {
            switch state {
            case .head:
                guard let head = try readHead() else { return nil }
                return .head(head)
            case let .sized(remaining):
                if remaining == 0 { state = .done; continue }
                guard available > 0 else {
                    if peerClosed {
                        throw Failure(
                            problem: .truncated,
                            text:
                                "the body was cut short: Content-Length \(bodyCount + remaining), got \(bodyCount) bytes"
                        )
                    }
                    return nil
                }
                let count = min(available, remaining)
                state = .sized(remaining: remaining - count)
                return .body(take(count))
            case .chunkSize:
                guard let lineEnd = find(Self.crlf) else {
                    if available > 1024 + 1 {
                        throw Failure(problem: .malformed, text: "a chunk size line longer than 1 KiB")
                    }  // + a CR
                    if peerClosed { throw cutShortChunked() }
                    return nil
                }
                if lineEnd - offset > 1024 {
                    throw Failure(problem: .malformed, text: "a chunk size line longer than 1 KiB")
                }
                let line = buffer[offset..<lineEnd]
                let sizeText = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != 9 }
                guard !sizeText.isEmpty, sizeText.count <= 8,
                    let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16)
                else {
                    throw Failure(
                        problem: .malformed,
                        text: "a chunk size that is not hexadecimal: \(ProtocolError.quoted(Array(line)))")
                }
                offset = lineEnd + Self.crlf.count
                if size == 0 { state = .trailers(read: 0); continue }
                if let limit = limits.body, bodyCount + size > limit {
                    throw Failure(problem: .tooLarge, text: "a chunked body above the \(limit >> 10) KiB limit")
                }
                state = .chunkData(remaining: size)
            case let .chunkData(remaining):
                if remaining == 0 { state = .chunkEnd; continue }
                guard available > 0 else {
                    if peerClosed { throw cutShortChunked() }
                    return nil
                }
                let count = min(available, remaining)
                state = .chunkData(remaining: remaining - count)
                return .body(take(count))
            case .chunkEnd:
                guard available >= 2 else {
                    if peerClosed { throw cutShortChunked() }
                    return nil
                }
                guard buffer[offset] == 13, buffer[offset + 1] == 10 else {
                    throw Failure(
                        problem: .malformed, text: "a chunk not followed by CRLF after \(bodyCount) bytes of body")
                }
                offset += 2
                state = .chunkSize
            case let .trailers(read):
                // Trailer fields, each a line, up to an empty line.
                guard let lineEnd = find(Self.crlf) else {
                    if read + available > limits.head {
                        throw Failure(problem: .tooLarge, text: "trailers above \(limits.head >> 10) KiB")
                    }
                    if peerClosed { throw cutShortChunked() }
                    return nil
                }
                let length = lineEnd - offset
                if read + length + 2 > limits.head {
                    throw Failure(problem: .tooLarge, text: "trailers above \(limits.head >> 10) KiB")
                }
                offset = lineEnd + Self.crlf.count
                state = length == 0 ? .done : .trailers(read: read + length + 2)
            case .untilClose:
                if available > 0 {
                    if let limit = limits.body, bodyCount + available > limit {
                        throw Failure(problem: .tooLarge, text: "a body above the \(limit >> 10) KiB limit")
                    }
                    return .body(take(available))
                }
                guard peerClosed else { return nil }
                state = .done
            case .done:
                return .end
            }
        }
    }

    private func cutShortChunked() -> Failure {
        Failure(problem: .truncated, text: "the chunked body was cut short after \(bodyCount) bytes")
    }

    private mutating func take(_ count: Int) -> [UInt8] {
        let piece = Array(buffer[offset..<(offset + count)])
        offset += count
        bodyCount += count
        return piece
    }

    /// Where `needle` (CRLF or a blank line: both begin with CR) starts, searching from
    /// `start`; nil when it is not (wholly) in yet.
    private func find(_ needle: [UInt8], from start: Int? = nil) -> Int? {
        var index = max(offset, start ?? 0)
        while index < buffer.count, let cr = buffer[index...].firstIndex(of: 13) {
            guard cr + needle.count <= buffer.count else { return nil }
            if buffer[cr..<(cr + needle.count)].elementsEqual(needle) { return cr }
            index = cr + 1
        }
        return nil
    }

    static let crlf: [UInt8] = [13, 10]
    static let blankLine: [UInt8] = [13, 10, 13, 10]

    /// The head of the final response, once all of it is in; interim ones are skipped.
    private mutating func readHead() throws(Failure) -> Head? {
        while true {
            // A status line that is not HTTP fails at once, without waiting for more.
            if let lineEnd = find(Self.crlf, from: lineScan) {
                try Self.checkStatusLine(buffer[offset..<lineEnd], received: Array(buffer[offset...].prefix(64)))
            } else {
                lineScan = max(offset, buffer.count - 1)
                if available >= 12, !buffer[offset...].starts(with: Array("HTTP/1.".utf8)) {
                    throw Failure(
                        problem: .malformed, text: "not an HTTP/1.x status line",
                        received: Array(buffer[offset...].prefix(64)), notHTTP: true)
                }
            }
            guard let headEnd = find(Self.blankLine, from: headScan) else {
                headScan = max(offset, buffer.count - 3)
                if available > limits.head + 3 {  // + a partial blank line
                    let what = sawStatusLine ? "no end of the headers" : "no status line"
                    throw Failure(problem: .tooLarge, text: "\(what) within \(limits.head >> 10) KiB")
                }
                if peerClosed {
                    if !anyByte {
                        throw Failure(problem: .closed, text: "the server closed the connection without an answer")
                    }
                    throw Failure(
                        problem: .truncated, text: "the headers were cut short",
                        received: Array(buffer[offset...].prefix(64)))
                }
                return nil
            }
            guard headEnd - offset <= limits.head else {
                throw Failure(problem: .tooLarge, text: "no end of the headers within \(limits.head >> 10) KiB")
            }
            let text = String(decoding: buffer[offset..<headEnd], as: UTF8.self)
            offset = headEnd + Self.blankLine.count
            (headScan, lineScan) = (offset, offset)
            var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
            let statusLine = lines.removeFirst()
            let status = Int(statusLine.dropFirst(9).prefix(3)) ?? 0
            let minor = statusLine.dropFirst(7).first == "0" ? 0 : 1
            if (100..<200).contains(status) && status != 101 { continue }  // 100 Continue, 103 Early Hints
            let framing = try Framing.read(lines)
            let keepAlive = minor == 1 ? !framing.connectionClose : framing.connectionKeepAlive
            let head = Head(status: status, minorVersion: minor, fields: framing.fields, keepAlive: keepAlive)
            self.keepAlive = keepAlive
            if status == 204 || status == 304 || status == 101 {
                state = .done
            } else if framing.chunked {
                state = .chunkSize
            } else if let length = framing.contentLength {
                if let limit = limits.body, length > limit {
                    throw Failure(
                        problem: .tooLarge, text: "a body of \(length) bytes, above the \(limit >> 10) KiB limit")
                }
                state = .sized(remaining: length)
            } else {
                state = .untilClose
                closeDelimited = true
            }
            return head
        }
    }

    private static func checkStatusLine(_ line: ArraySlice<UInt8>, received: [UInt8]) throws(Failure) {
        // HTTP/1.x SSS[ reason]
        let bytes = Array(line)
        guard bytes.count >= 12, bytes.starts(with: Array("HTTP/1.".utf8)), (48...57).contains(bytes[7]),
            bytes[8] == 32,
            bytes[9...11].allSatisfy({ (48...57).contains($0) }), bytes.count == 12 || bytes[12] == 32
        else {
            throw Failure(
                problem: .malformed, text: "not an HTTP/1.x status line: \(ProtocolError.quoted(bytes))",
                received: received, notHTTP: true)
        }
    }

    /// The header fields that decide framing and whether the connection stays open.
    struct Framing {
        var fields: [Head.Field] = []
        var chunked = false
        var contentLength: Int?
        var connectionClose = false
        var connectionKeepAlive = false

        static func read(_ lines: [Substring]) throws(Failure) -> Framing {
            var framing = Framing()
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else {
                    throw Failure(
                        problem: .malformed,
                        text: "a header line without a colon: \(ProtocolError.quoted(Array(line.utf8)))")
                }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                framing.fields.append(Head.Field(name: String(line[..<colon]), value: value))
                switch name {
                case "transfer-encoding":
                    // The last coding decides: "gzip, chunked" is still framed by chunks.
                    let last = value.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased()
                    framing.chunked = last == "chunked"
                case "content-length":
                    let values = Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                    guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 18,
                        text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let length = Int(text)
                    else {
                        throw Failure(
                            problem: .malformed,
                            text: "a Content-Length that is not one number: \(ProtocolError.quoted(Array(value.utf8)))")
                    }
                    if let earlier = framing.contentLength, earlier != length {
                        throw Failure(
                            problem: .malformed, text: "two different Content-Length headers (\(earlier) and \(length))"
                        )
                    }
                    framing.contentLength = length
                case "connection":
                    let options = value.lowercased().split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }
                    framing.connectionClose = framing.connectionClose || options.contains("close")
                    framing.connectionKeepAlive = framing.connectionKeepAlive || options.contains("keep-alive")
                default:
                    break
                }
            }
            return framing
        }
    }
}
