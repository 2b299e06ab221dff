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
            (1...65535).contains(port)
        else { return nil }
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

/// Ready on a 2xx or 3xx answer to GET, through muster's one HTTP client
/// (`HTTPClient`): plain http on a socket, https with TLS from the system's OpenSSL,
/// loaded on first use; the same response framing for both.
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
        let (url, timeout, field) = (url, timeout, identityField)
        return await offload { Self.get(url, timeout: timeout, identityField: field) }
    }

    /// One GET, read as far as the probe needs: the head, and the body when it holds
    /// the identity. `caFile` replaces the system's trusted certificates (tests).
    static func get(_ url: String, timeout: Duration, identityField: String?, trusting caFile: String? = nil)
        -> ProbeOutcome
    {
        guard let target = HTTPTarget(url) else { return .failed("bad URL \(url)") }
        let stream: ByteStream
        do {
            stream = try target.connect(timeout: timeout, trusting: caFile)
        } catch {
            return .failed("\(error)")
        }
        defer { stream.close() }
        stream.deadline = .now + timeout
        let request = HTTPClient.Request(
            target: target.requestTarget, host: target.hostHeader, userAgent: "muster-probe")
        do {
            let response = try HTTPClient.fetch(request, on: stream, limits: .probe, readBody: identityField != nil)
            return outcome(
                status: response.head.status, body: Data(response.body), url: url, identityField: identityField)
        } catch {
            return .failed(describe(error, url: url).description)
        }
    }

    /// What a probe makes of `response`, the bytes a server sent (`closed`: and then
    /// closed the connection): the same parser as a live check.
    static func interpret(_ response: [UInt8], url: String, identityField: String?, closed: Bool = true) -> ProbeOutcome
    {
        var parser = HTTPResponseParser(limits: .probe)
        parser.append(response)
        if closed { parser.peerDidClose() }
        var status: Int?
        var body: [UInt8] = []
        do {
            while let event = try parser.next() {
                switch event {
                case let .head(head):
                    status = head.status
                    if identityField == nil {
                        return outcome(status: head.status, body: nil, url: url, identityField: nil)
                    }
                case let .body(piece): body += piece
                case .end: return outcome(status: status ?? 0, body: Data(body), url: url, identityField: identityField)
                }
            }
        } catch {
            return .failed(describe(.response(error), url: url).description)
        }
        let got = response.isEmpty ? "no answer" : "\(response.count) bytes and the response cut short"
        return .failed(ProtocolError("http", .truncated, "GET \(url): \(got)").description)
    }

    /// One line naming what went wrong, in the words of the rest of the probes.
    static func describe(_ failure: HTTPClient.Failure, url: String) -> ProtocolError {
        switch failure {
        case let .response(problem) where problem.notHTTP:
            return ProtocolError(
                "http", .malformed, "GET \(url): not an HTTP response (got \(ProtocolError.quoted(problem.received)))")
        case let .response(problem):
            return ProtocolError("http", problem.problem, "GET \(url): \(problem.text)")
        case let .network(error, received, sawStatusLine):
            let got =
                received == 0
                ? "no answer"
                : "\(received) bytes and no complete \(sawStatusLine ? "response" : "status line")"
            return ProtocolError("http", received == 0 ? .stalled : .truncated, "GET \(url): \(got): \(error.message)")
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
}
