/// Where an HTTP/1.x response ends (RFC 9112 section 6): interim `1xx` responses are
/// skipped; the body of the final one is delimited by chunked transfer coding (chunk
/// extensions and trailers read and dropped), by `Content-Length`, or by the close of
/// the connection. Pure: the probe reads bytes and asks after each read whether the
/// response is complete, so it needs no wait for the server's close, and a body sent
/// chunked (Spring Boot, Go's net/http for larger bodies, many Node servers) yields
/// the same identity as one sent with a length.
enum HTTPResponseFraming {
    struct Response: Equatable {
        var status: Int
        var body: [UInt8]
    }

    enum Outcome: Equatable {
        case complete(Response)
        /// More bytes are needed (only when the connection is still open).
        case incomplete
        /// Not a well-framed response; the phrase says what was wrong.
        case invalid(String)
    }

    static let crlf: [UInt8] = [13, 10]
    static let blankLine: [UInt8] = [13, 10, 13, 10]
    /// Larger bodies are not a health endpoint's; a probe refuses them.
    static let maxBody = 256 * 1024

    /// The response in `bytes`; `closed` says the peer closed the connection after them.
    static func parse(_ bytes: [UInt8], closed: Bool) -> Outcome {
        var start = 0
        while true {
            guard let headEnd = find(blankLine, in: bytes, from: start) else {
                return closed ? .invalid("the headers were cut short") : .incomplete
            }
            let head = String(decoding: bytes[start..<headEnd], as: UTF8.self)
            var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            let statusLine = lines.removeFirst()
            let parts = statusLine.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
                return .invalid("not an HTTP/1.x status line: \(ProtocolError.quoted(Array(statusLine.utf8)))")
            }
            let bodyStart = headEnd + blankLine.count
            if (100..<200).contains(status) && status != 101 {
                start = bodyStart  // 100 Continue, 103 Early Hints: the real answer follows
                continue
            }
            let headers: Headers
            switch Headers.read(lines) {
            case let .success(read): headers = read
            case let .failure(problem): return .invalid(problem.text)
            }
            if status == 204 || status == 304 { return .complete(Response(status: status, body: [])) }
            if headers.chunked { return dechunk(bytes, from: bodyStart, status: status, closed: closed) }
            if let length = headers.contentLength {
                guard length <= maxBody else { return .invalid("a body of \(length) bytes, above the \(maxBody >> 10) KiB a probe reads") }
                let available = bytes.count - bodyStart
                if available >= length { return .complete(Response(status: status, body: Array(bytes[bodyStart..<(bodyStart + length)]))) }
                return closed ? .invalid("the body was cut short: Content-Length \(length), got \(available) bytes") : .incomplete
            }
            // Neither: the body runs until the server closes the connection (HTTP/1.0 style).
            return closed ? .complete(Response(status: status, body: Array(bytes[bodyStart...]))) : .incomplete
        }
    }

    /// The header fields that decide framing.
    struct Headers {
        var chunked = false
        var contentLength: Int?

        struct Problem: Error { var text: String }

        static func read(_ lines: [String]) -> Result<Headers, Problem> {
            var headers = Headers()
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else {
                    return .failure(Problem(text: "a header line without a colon: \(ProtocolError.quoted(Array(line.utf8)))"))
                }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if name == "transfer-encoding" {
                    // The last coding decides: "gzip, chunked" is still framed by chunks.
                    let last = value.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased()
                    headers.chunked = last == "chunked"
                } else if name == "content-length" {
                    let values = Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                    guard values.count == 1, let text = values.first, !text.isEmpty, text.count <= 18,
                          text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let length = Int(text) else {
                        return .failure(Problem(text: "a Content-Length that is not one number: \(ProtocolError.quoted(Array(value.utf8)))"))
                    }
                    if let earlier = headers.contentLength, earlier != length {
                        return .failure(Problem(text: "two different Content-Length headers (\(earlier) and \(length))"))
                    }
                    headers.contentLength = length
                }
            }
            return .success(headers)
        }
    }

    /// Chunked transfer coding: `SIZE[;ext]\r\nDATA\r\n` ... `0\r\n[trailers]\r\n`.
    static func dechunk(_ bytes: [UInt8], from start: Int, status: Int, closed: Bool) -> Outcome {
        var body: [UInt8] = []
        var position = start
        func more() -> Outcome { closed ? .invalid("the chunked body was cut short after \(body.count) bytes") : .incomplete }
        while true {
            guard let lineEnd = find(crlf, in: bytes, from: position) else { return more() }
            let line = bytes[position..<lineEnd]
            let sizeText = line.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != UInt8(ascii: " ") && $0 != 9 }
            guard !sizeText.isEmpty, sizeText.count <= 8, let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16) else {
                return .invalid("a chunk size that is not hexadecimal: \(ProtocolError.quoted(Array(line)))")
            }
            position = lineEnd + crlf.count
            if size == 0 {
                // Trailer fields, each a line, up to an empty line.
                while true {
                    guard let end = find(crlf, in: bytes, from: position) else { return more() }
                    if end == position { return .complete(Response(status: status, body: body)) }
                    position = end + crlf.count
                }
            }
            guard body.count + size <= maxBody else {
                return .invalid("a chunked body above the \(maxBody >> 10) KiB a probe reads")
            }
            guard bytes.count >= position + size + crlf.count else { return more() }
            body += bytes[position..<(position + size)]
            position += size
            guard bytes[position] == 13, bytes[position + 1] == 10 else {
                return .invalid("a chunk of \(size) bytes not followed by CRLF")
            }
            position += crlf.count
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard start <= haystack.count else { return nil }
        return haystack[start...].firstRange(of: needle)?.lowerBound
    }
}
