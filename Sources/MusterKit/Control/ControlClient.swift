import Foundation

/// The CLI's side of the control API: HTTP/1.1 on the project's unix socket, through
/// muster's one HTTP client (`HTTPClient`). A GET leaves its connection open for the
/// next one (the interactive view asks for the status twice a second; `ps` and `env`
/// reuse the connection that found the supervisor); operations and streams have a
/// connection of their own.
public struct ControlClient: Sendable {
    public let socketPath: String
    private let idle = IdleConnection()

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// A client for the project's supervisor, or nil when none answers (not
    /// running, or a stale socket left by one that died).
    public static func connect(_ paths: ProjectPaths) -> ControlClient? {
        let client = ControlClient(socketPath: paths.controlSocket)
        guard let connection = try? TCPConnection(unixSocket: client.socketPath, timeout: .seconds(2)) else {
            return nil
        }
        client.idle.put(connection)
        return client
    }

    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Sends one request and reads the whole answer. `timeout` bounds each read,
    /// so a long operation (a restart waiting for ready) needs a long one.
    public func request(_ method: String, _ path: String, body: Data? = nil, timeout: Duration = .seconds(30)) throws
        -> Response
    {
        let request = HTTPClient.Request(
            method: method, target: path, host: "muster", body: body.map { Array($0) }, keepAlive: method == "GET")
        do {
            if method == "GET", let reused = idle.take() {
                do {
                    return try fetch(request, on: reused, timeout: timeout)
                } catch let failure as HTTPClient.Failure where failure.nothingReceived {
                    // The supervisor closed the idle connection: a GET is safe to send again.
                }
            }
            return try fetch(request, on: open(timeout: timeout), timeout: timeout)
        } catch let failure as HTTPClient.Failure {
            throw stoppedAnswering(failure)
        }
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
            throw MusterError(
                .environment, "the supervisor answered \(path) with HTTP \(response.status) and no result")
        }
    }

    /// Sends a request and hands each piece of the body to `onData` as it
    /// arrives (chunked or not) until the body ends or `onData` returns false.
    /// Returns the HTTP status.
    @discardableResult
    public func stream(
        _ method: String, _ path: String, body: Data? = nil, timeout: Duration,
        onData: (Data) -> Bool
    ) throws -> Int {
        let connection = try open(timeout: timeout)
        defer { connection.close() }
        let request = HTTPClient.Request(method: method, target: path, host: "muster", body: body.map { Array($0) })
        do {
            let (head, _) = try HTTPClient.exchange(request, on: connection, limits: .stream) { onData(Data($0)) }
            return head.status
        } catch {
            throw stoppedAnswering(error)
        }
    }

    private func open(timeout: Duration) throws -> TCPConnection {
        do {
            return try TCPConnection(unixSocket: socketPath, timeout: timeout)
        } catch {
            throw MusterError(.notRunning, "cannot reach the supervisor at \(socketPath): \(error)")
        }
    }

    /// One exchange; the connection goes back to the idle slot when it can carry another.
    private func fetch(_ request: HTTPClient.Request, on connection: TCPConnection, timeout: Duration) throws
        -> Response
    {
        connection.timeout = timeout
        let response: HTTPClient.Response
        do {
            response = try HTTPClient.fetch(request, on: connection, limits: .stream)
        } catch {
            connection.close()
            throw error
        }
        if request.keepAlive && response.reusable { idle.put(connection) } else { connection.close() }
        return Response(status: response.head.status, body: Data(response.body))
    }

    private func stoppedAnswering(_ failure: HTTPClient.Failure) -> MusterError {
        MusterError(.environment, "the supervisor at \(socketPath) stopped answering: \(failure)")
    }
}

/// At most one open connection to the supervisor, kept between requests.
private final class IdleConnection: @unchecked Sendable {
    private let lock = NSLock()
    private var connection: TCPConnection?

    func take() -> TCPConnection? {
        lock.withLock {
            defer { connection = nil }
            return connection
        }
    }

    func put(_ connection: TCPConnection) {
        let replaced = lock.withLock {
            defer { self.connection = connection }
            return self.connection
        }
        replaced?.close()
    }
}
