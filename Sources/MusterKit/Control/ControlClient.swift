import Foundation

/// The CLI's side of the control API: HTTP/1.1 requests over the project's unix
/// socket, one connection per request.
public struct ControlClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// A client for the project's supervisor, or nil when none answers (not
    /// running, or a stale socket left by one that died).
    public static func connect(_ paths: ProjectPaths) -> ControlClient? {
        let client = ControlClient(socketPath: paths.controlSocket)
        return (try? TCPConnection(unixSocket: client.socketPath, timeout: .seconds(2))) == nil ? nil : client
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Sends one request and reads the whole answer. `timeout` bounds each read,
    /// so a long operation (a restart waiting for ready) needs a long one.
    public func request(_ method: String, _ path: String, body: Data? = nil, timeout: Duration = .seconds(30)) throws -> Response {
        var collected = Data()
        let status = try stream(method, path, body: body, timeout: timeout) { chunk in
            collected.append(chunk)
            return true
        }
        return Response(status: status, body: collected)
    }

    public func status() throws -> StatusReport {
        try ControlJSON.decode(StatusReport.self, from: request("GET", "/v1/status").body)
    }

    /// Runs an operation and returns its result (failed results included).
    public func perform(_ path: String, _ operation: OperationRequest?, timeout: Duration) throws -> OperationResult {
        let body = operation.map { ControlJSON.encode($0) } ?? Data("{}".utf8)
        let response = try request("POST", path, body: body, timeout: timeout)
        do {
            return try ControlJSON.decode(OperationResult.self, from: response.body)
        } catch {
            throw MusterError(.environment, "the supervisor answered \(path) with HTTP \(response.status) and no result")
        }
    }

    /// Sends a request and hands each piece of the body to `onData` as it
    /// arrives (chunked or not) until the body ends or `onData` returns false.
    /// Returns the HTTP status.
    @discardableResult
    public func stream(_ method: String, _ path: String, body: Data? = nil, timeout: Duration,
                       onData: (Data) -> Bool) throws -> Int {
        let connection: TCPConnection
        do {
            connection = try TCPConnection(unixSocket: socketPath, timeout: timeout)
        } catch {
            throw MusterError(.notRunning, "cannot reach the supervisor at \(socketPath): \(error)")
        }
        defer { connection.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: muster\r\nConnection: close\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        do {
            try connection.write(Array(head.utf8) + Array(body ?? Data()))
            var reader = HTTPResponseReader(connection: connection)
            let status = try reader.readHead()
            try reader.readBody(onData)
            return status
        } catch let error as NetworkError {
            throw MusterError(.environment, "the supervisor at \(socketPath) stopped answering: \(error)")
        }
    }
}

/// Reads one HTTP/1.1 response: the head, then a body framed by Content-Length,
/// chunked encoding, or the end of the connection.
struct HTTPResponseReader {
    let connection: TCPConnection
    private var buffer: [UInt8] = []
    private var contentLength: Int?
    private var chunked = false

    init(connection: TCPConnection) {
        self.connection = connection
    }

    mutating func readHead() throws -> Int {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw NetworkError("not an HTTP response: \(statusLine.prefix(60))")
        }
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { contentLength = Int(value) }
            if name == "transfer-encoding", value.lowercased().contains("chunked") { chunked = true }
        }
        return status
    }

    mutating func readBody(_ onData: (Data) -> Bool) throws {
        if chunked {
            while true {
                let sizeLine = try readLine()
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw NetworkError("bad chunk size \"\(sizeLine.prefix(20))\"")
                }
                if size == 0 { return }
                let chunk = try take(size)
                _ = try readLine()
                if !onData(Data(chunk)) { return }
            }
        } else if let contentLength {
            _ = onData(Data(try take(contentLength)))
        } else {
            if !buffer.isEmpty, !onData(Data(buffer)) { return }
            buffer = []
            while true {
                let more = try connection.readSome(max: 64 * 1024)
                if more.isEmpty || !onData(Data(more)) { return }
            }
        }
    }

    private mutating func fill() throws {
        let more = try connection.readSome(max: 64 * 1024)
        if more.isEmpty { throw NetworkError("connection closed mid-response") }
        buffer += more
    }

    private mutating func readLine() throws -> String {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                var line = buffer[..<newline]
                if line.last == 13 { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                buffer.removeSubrange(...newline)
                return text
            }
            try fill()
        }
    }

    private mutating func take(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer[..<count])
        buffer.removeSubrange(..<count)
        return bytes
    }
}
