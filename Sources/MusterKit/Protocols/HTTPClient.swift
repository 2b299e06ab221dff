import Foundation

/// A connected stream of bytes with deadlines: a TCP connection, the control API's
/// unix socket (both `TCPConnection`), or TLS over TCP (`TLSConnection`).
protocol ByteStream: AnyObject {
    /// "host:port" or the socket's path, for messages.
    var endpoint: String { get }
    /// No call runs past this, however the peer trickles its bytes.
    var deadline: ContinuousClock.Instant? { get set }
    func write(_ bytes: [UInt8]) throws
    /// Whatever arrives first, up to `max` bytes; [] at the end of the stream.
    func readSome(max: Int) throws -> [UInt8]
    func close()
}

extension TCPConnection: ByteStream {}

/// The one HTTP client for every HTTP muster speaks: http and https probes (the alive
/// probe's identity among them) and the CLI's control client on the project's unix
/// socket. A request is written, then the response is read by `HTTPResponseParser`,
/// whatever the transport; the body is collected (probes, bounded) or handed out piece
/// by piece as it arrives (the control API's logs and event stream). Blocking, with the
/// stream's deadlines bounding every call: probes run it on a thread of their own.
enum HTTPClient {
    /// A response whose body was read whole.
    struct Response {
        var head: HTTPResponseParser.Head
        var body: [UInt8]
        /// The connection may carry another request.
        var reusable: Bool
    }

    /// Why an exchange ended without a complete response.
    enum Failure: Error, CustomStringConvertible {
        /// The transport failed or stalled: `received` bytes had come, `sawStatusLine` says
        /// whether they held a whole status line.
        case network(NetworkError, received: Int, sawStatusLine: Bool)
        /// The peer's bytes were not a well-framed response.
        case response(HTTPResponseParser.Failure)

        /// Not a byte of an answer came: the request may not have reached the server.
        var nothingReceived: Bool {
            switch self {
            case let .network(_, received, _): received == 0
            case let .response(failure): failure.problem == .closed
            }
        }

        var description: String {
            switch self {
            case let .network(error, received, _):
                received == 0 ? error.message : "\(error.message) (\(received) bytes had arrived)"
            case let .response(failure): failure.text
            }
        }
    }

    /// Sends `request` and reads its response whole (the body only when `readBody`).
    static func fetch(
        _ request: Request, on stream: ByteStream, limits: HTTPResponseParser.Limits,
        readBody: Bool = true
    ) throws(Failure) -> Response {
        var body: [UInt8] = []
        let (head, reusable) = try exchange(request, on: stream, limits: limits, readBody: readBody) { piece in
            body += piece
            return true
        }
        return Response(head: head, body: body, reusable: reusable)
    }

    /// Sends `request`, returns the final response's head once `onBody` has had each
    /// piece of the body as it arrived, until the body ends or `onBody` returns false.
    /// `reusable` is true when the whole response was read and the server keeps the
    /// connection open.
    static func exchange(
        _ request: Request, on stream: ByteStream, limits: HTTPResponseParser.Limits,
        readBody: Bool = true,
        onBody: ([UInt8]) -> Bool
    ) throws(Failure) -> (HTTPResponseParser.Head, reusable: Bool) {
        var parser = HTTPResponseParser(limits: limits)
        var received = 0
        do {
            try stream.write(request.bytes)
        } catch {
            throw .network(error as? NetworkError ?? NetworkError("\(error)"), received: 0, sawStatusLine: false)
        }
        var head: HTTPResponseParser.Head?
        while true {
            do throws(HTTPResponseParser.Failure) {
                while let event = try parser.next() {
                    switch event {
                    case let .head(final):
                        head = final
                        if !readBody { return (final, false) }
                    case let .body(piece):
                        if !onBody(piece), let head { return (head, false) }
                    case .end:
                        guard let head else {
                            throw HTTPResponseParser.Failure(problem: .malformed, text: "a response without a head")
                        }
                        return (head, parser.reusable)
                    }
                }
            } catch {
                throw .response(error)
            }
            let bytes: [UInt8]
            do {
                bytes = try stream.readSome(max: 16 * 1024)
            } catch {
                throw .network(
                    error as? NetworkError ?? NetworkError("\(error)"), received: received,
                    sawStatusLine: parser.sawStatusLine)
            }
            received += bytes.count
            if bytes.isEmpty { parser.peerDidClose() } else { parser.append(bytes) }
        }
    }
}

extension HTTPClient {
    /// One HTTP/1.1 request as muster sends it: GET for probes, GET and POST with a JSON
    /// body for the control API.
    struct Request {
        var method = "GET"
        var target: String
        var host: String
        var userAgent = "muster"
        var body: [UInt8]?
        /// Ask the server to keep the connection for another request.
        var keepAlive = false

        var bytes: [UInt8] {
            var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: \(userAgent)\r\nAccept: */*\r\n"
            head += keepAlive ? "" : "Connection: close\r\n"
            if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
            return Array((head + "\r\n").utf8) + (body ?? [])
        }
    }
}

/// Where an http or https URL points, as the client connects to it.
struct HTTPTarget {
    var secure: Bool
    var host: String
    var port: Int
    /// Path and query, at least "/".
    var requestTarget: String
    /// The `Host` header: the port only when the URL names one.
    var hostHeader: String

    init?(_ url: String) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            var host = parsed.host, !host.isEmpty
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        secure = scheme == "https"
        self.host = host
        port = parsed.port ?? (secure ? 443 : 80)
        requestTarget = (parsed.path.isEmpty ? "/" : parsed.path) + (parsed.query.map { "?" + $0 } ?? "")
        let named = host.contains(":") ? "[\(host)]" : host
        hostHeader = parsed.port.map { "\(named):\($0)" } ?? named
    }

    /// A connection to the target within `timeout`: TCP, with TLS for https, checked
    /// against the system's trusted certificates (or only those in `caFile`).
    func connect(timeout: Duration, trusting caFile: String? = nil) throws -> ByteStream {
        let socket = try TCPConnection(host: host, port: port, timeout: timeout)
        guard secure else { return socket }
        return try TLSConnection(over: socket, host: host, trusting: caFile)
    }
}
