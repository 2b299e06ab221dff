import CMusterShims
import Foundation

/// Ready when a TCP connection to HOST:PORT succeeds.
public struct TCPProbe: PollingProbe {
    public var host: String
    public var port: Int
    public var timeout: Duration

    public init(host: String, port: Int, timeout: Duration) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    /// Splits `HOST:PORT` (IPv6 in brackets).
    public static func parse(_ target: String) -> (String, Int)? {
        guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(target[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    public func check() async -> ProbeOutcome {
        let (host, port, timeout) = (host, port, timeout)
        return await offload {
            do {
                let connection = try TCPConnection(host: host, port: port, timeout: timeout)
                connection.close()
                return .passed(identity: nil)
            } catch {
                return .failed("\(error)")
            }
        }
    }
}

/// Ready on a 2xx or 3xx answer to GET. Plain http speaks HTTP/1.1 over a socket
/// directly (cheap enough to poll every few ms); https goes through libcurl, loaded on first use.
public struct HTTPProbe: PollingProbe {
    public var url: String
    public var timeout: Duration
    /// A top-level JSON field of the body that identifies the instance.
    public var identityField: String?

    public init(url: String, timeout: Duration, identityField: String? = nil) {
        self.url = url
        self.timeout = timeout
        self.identityField = identityField
    }

    public func check() async -> ProbeOutcome {
        guard let parsed = URL(string: url), let host = parsed.host else { return .failed("bad URL \(url)") }
        if parsed.scheme == "https" { return await checkWithCurl() }
        let port = parsed.port ?? 80
        let path = (parsed.path.isEmpty ? "/" : parsed.path) + (parsed.query.map { "?" + $0 } ?? "")
        let (timeout, field, url) = (timeout, identityField, url)
        let hostHeader = parsed.port.map { "\(host):\($0)" } ?? host
        return await offload {
            do {
                let connection = try TCPConnection(host: host, port: port, timeout: timeout)
                connection.deadline = .now + timeout
                defer { connection.close() }
                let request = "GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nUser-Agent: muster-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
                try connection.write(Array(request.utf8))
                var response: [UInt8] = []
                var closed = false
                // Bounded: a status line, or a JSON body for the identity, is all a probe needs.
                while response.count < Self.maxResponse {
                    let chunk: [UInt8]
                    do {
                        chunk = try connection.readSome(max: min(16 * 1024, Self.maxResponse - response.count))
                    } catch let error as NetworkError {
                        // A status line that arrived is enough; a stall before it is the failure.
                        if field != nil, response.firstRange(of: Array("\r\n".utf8)) != nil { break }
                        let got = response.isEmpty ? "no answer" : "\(response.count) bytes and no complete status line"
                        return .failed(ProtocolError("http", .truncated, "GET \(url): \(got): \(error.message)").description)
                    }
                    if chunk.isEmpty { closed = true; break }
                    response += chunk
                    if field == nil, response.firstRange(of: Array("\r\n".utf8)) != nil { break }
                    // The whole response is in (by its length or its last chunk): no wait for the close.
                    if field != nil, HTTPResponseFraming.parse(response, closed: false) != .incomplete { break }
                }
                return Self.interpret(response, url: url, identityField: field, closed: closed)
            } catch {
                return .failed("\(error)")
            }
        }
    }

    static let maxResponse = 256 * 1024

    /// Reads the status line (and the identity field of a JSON body).
    static func interpret(_ response: [UInt8], url: String, identityField: String?, closed: Bool = true) -> ProbeOutcome {
        let text = String(decoding: response, as: UTF8.self)
        guard response.isEmpty || response.contains(10) else {
            let why = response.count >= maxResponse ? "no status line within \(maxResponse >> 10) KiB" : "the status line was cut short"
            return .failed(ProtocolError("http", .truncated, "GET \(url): \(why) (got \(ProtocolError.quoted(response)))").description)
        }
        let statusLine = text.prefix { $0 != "\r" && $0 != "\n" }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
            let problem = response.isEmpty ? "the server closed the connection without an answer"
                : "not an HTTP response (got \(ProtocolError.quoted(response)))"
            return .failed(ProtocolError("http", response.isEmpty ? .closed : .malformed, "GET \(url): \(problem)").description)
        }
        guard identityField != nil else { return outcome(status: code, body: nil, url: url, identityField: nil) }
        // The identity is read from the body as framed (chunked, a length, or the close).
        switch HTTPResponseFraming.parse(response, closed: closed || response.count >= maxResponse) {
        case let .complete(framed):
            return outcome(status: framed.status, body: Data(framed.body), url: url, identityField: identityField)
        case .incomplete:
            return .failed(ProtocolError("http", .truncated, "GET \(url): the response was cut short").description)
        case let .invalid(problem):
            return .failed(ProtocolError("http", .malformed, "GET \(url): \(problem)").description)
        }
    }

    /// 2xx or 3xx passes; the identity is a top-level field of a JSON body.
    static func outcome(status: Int, body: Data?, url: String, identityField: String?) -> ProbeOutcome {
        guard (200..<400).contains(status) else { return .failed("GET \(url) answered \(status)") }
        guard let identityField, let body else { return .passed(identity: nil) }
        // A string is itself; a number, flag or structure is its JSON text.
        let value = (try? JSONValue.parse(body))?[identityField]
        return .passed(identity: value.map { $0.stringValue ?? $0.text })
    }

    private func checkWithCurl() async -> ProbeOutcome {
        let (url, field, timeoutMs) = (url, identityField, max(1, Int(timeout.milliseconds)))
        return await offload {
            var status = 0
            var length = 0
            var body = [UInt8](repeating: 0, count: field == nil ? 1 : 256 * 1024)
            var error = [CChar](repeating: 0, count: 512)
            let code = body.withUnsafeMutableBufferPointer { bodyBuffer in
                muster_https_get(url, timeoutMs, &status, bodyBuffer.baseAddress, bodyBuffer.count, &length, &error, error.count)
            }
            guard code == 0 else { return .failed("GET \(url): \(String(nulTerminated: error))") }
            return Self.outcome(status: status, body: Data(body[0..<length]), url: url, identityField: field)
        }
    }
}
