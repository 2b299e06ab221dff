import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// What the control API asks of a running stack. `StackHost` implements it.
public protocol ControlHandler: AnyObject, Sendable {
    var paths: ProjectPaths { get }
    /// True once shutdown has begun: follow streams end.
    var closing: Bool { get }
    func status() async -> StatusReport
    func environment() async -> [String: String]
    func perform(_ action: ControlAction, _ request: OperationRequest) async -> OperationResult
    func shutdown() async -> OperationResult
    /// Snapshots, restores and clones of a Postgres service's databases.
    func database(_ action: DatabaseAction, _ request: DatabaseRequest) async -> DatabaseResult
}

/// The control API: HTTP/1.1 served by Hummingbird on the project's unix socket
/// (`RUNTIME_DIR/control.sock`, owner-only inside a 0700 dir). The CLI uses it, and
/// test harnesses can too, with `curl --unix-socket SOCKET http://muster/v1/status`.
///
/// | method | path | does |
/// |---|---|---|
/// | GET | /v1/status | the supervisor and every service (as `ps --json`) |
/// | GET | /v1/env | the connection variables, one flat JSON object |
/// | GET | /v1/logs?service=S&tail=N&follow=true | stored output; several `service`s interleave, prefixed |
/// | GET | /v1/events?since=SEQ&follow=true | events.jsonl lines after SEQ |
/// | GET | /v1/disruptions?from=RFC3339&to=RFC3339 | the supervisor's `Disruption`s overlapping [from, to] (both optional) |
/// | POST | /v1/start, /v1/stop, /v1/restart | body `{"services":[...],"timeout_ms":N,"no_deps":false}`; answers when done |
/// | POST | /v1/shutdown | stops everything in reverse order; answers when done, then the supervisor exits |
/// | POST | /v1/db/snapshot, /v1/db/restore, /v1/db/clone | body `{"service":"db","database":"shop","name":"default","count":4}` |
/// | GET | /v1/db/snapshots?service=S | the snapshots of a Postgres service, with size and time taken |
/// Unchecked: the server group and task are set in start() before any request, and read in stop().
public final class ControlServer: @unchecked Sendable {
    public let socketPath: String
    private let handler: ControlHandler
    private var group: ServiceGroup?
    private var runTask: Task<Void, Never>?

    /// How often follow streams look for new lines.
    static let followInterval: Duration = .milliseconds(50)

    public init(socketPath: String, handler: ControlHandler) {
        self.socketPath = socketPath
        self.handler = handler
    }

    /// Binds the socket (replacing a stale one) and returns once it accepts connections.
    public func start() async throws {
        unlink(socketPath)
        var logger = Logger(label: "muster.control")
        logger.logLevel = .critical
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: nil),
            onServerRunning: { [socketPath] _ in chmod(socketPath, 0o600) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        self.group = group
        runTask = Task { try? await group.run() }
        // Hummingbird binds in the background; wait until the socket answers.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? TCPConnection(unixSocket: socketPath, timeout: .milliseconds(200))) != nil { return }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw MusterError(.environment, "the control socket \(socketPath) did not come up; check that /tmp is writable")
    }

    /// Stops accepting, lets answers in flight finish, and removes the socket.
    public func stop() async {
        await group?.triggerGracefulShutdown()
        await runTask?.value
        unlink(socketPath)
    }

    // MARK: - Routes

    /// Every route reads its request with `ControlRequests.route` (muster's own part of
    /// request handling, fuzzed) and hands what it asks to the handler.
    private func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        for route in ControlRequests.routes {
            router.on(RouterPath(route.path), method: HTTPRequest.Method(route.method)!) { request, _ in
                try await self.respond(to: request, path: route.path)
            }
        }
        return router
    }

    private func respond(to request: Request, path: String) async throws -> Response {
        let body =
            request.method == .post
            ? Array(buffer: try await request.body.collect(upTo: ControlRequests.bodyLimit)) : []
        let query = ControlQuery(request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        ControlRequests.record(method: request.method.rawValue, path: path, query: query, body: body)
        let route: ControlRoute
        switch ControlRequests.route(method: request.method.rawValue, path: path, query: query, body: body) {
        case let .failure(error):
            return path.hasPrefix("/v1/db/")
                ? Self.json(DatabaseResult(error), status: .badRequest)
                : Self.json(OperationResult(error), status: .badRequest)
        case let .success(found): route = found
        }
        switch route {
        case .status: return Self.json(await handler.status())
        case .environment: return Self.json(await handler.environment())
        case .shutdown: return Self.result(await handler.shutdown())
        case let .operation(action, operation): return Self.result(await handler.perform(action, operation))
        case let .database(action, operation): return Self.databaseResult(await handler.database(action, operation))
        case let .logs(services, tail, follow): return await logs(services: services, tail: tail, follow: follow)
        case let .events(since, follow): return events(since: since, follow: follow)
        case let .disruptions(from, to): return await disruptions(from: from, to: to)
        }
    }

    /// The one definition (`Disruption.from`) over the events of this supervisor's
    /// life, so test plugins never re-implement it.
    private func disruptions(from: Double?, to: Double?) async -> Response {
        let since = RFC3339.seconds(await handler.status().started) ?? 0
        let events = ServiceEvent.read(handler.paths.eventsFile).filter { (RFC3339.seconds($0.time) ?? 0) >= since }
        let found = Disruption.from(events).filter { $0.overlaps(from: from, to: to) }
        return Self.json(DisruptionsReport(disruptions: found))
    }

    private func logs(services named: [String], tail: Int?, follow: Bool) async -> Response {
        let known = await handler.status().services.map(\.name)
        let services = named.isEmpty ? known : named
        for name in services where !known.contains(name) {
            return Self.json(
                OperationResult(MusterError(.usage, "no service \"\(name)\"\(Suggestion.hint(for: name, in: known))")),
                status: .badRequest)
        }
        let width = services.map(\.count).max() ?? 0
        let prefixes = Dictionary(
            uniqueKeysWithValues: services.map { name in
                (name, services.count > 1 ? name.padding(toLength: width, withPad: " ", startingAt: 0) + " │ " : "")
            })
        let paths = handler.paths
        let handler = self.handler
        return Response(
            status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody { writer in
                var followers: [(String, FileFollower)] = []
                for name in services {
                    // Older lines from the rotated files first, then NAME.log.
                    // A running service's last line may be half written: it is shown once whole.
                    let (lines, end) = FileTail.snapshot(
                        ofFiles: LogFiles.all(paths.logFile(for: name)), count: tail, wholeLines: true)
                    if !lines.isEmpty {
                        try await writer.write(ByteBuffer(string: lines.map { prefixes[name]! + $0 + "\n" }.joined()))
                    }
                    followers.append((name, FileFollower(path: paths.logFile(for: name), offset: end)))
                }
                while follow, !handler.closing, !Task.isCancelled {
                    for (name, follower) in followers {
                        let lines = follower.poll()
                        if !lines.isEmpty {
                            try await writer.write(
                                ByteBuffer(string: lines.map { prefixes[name]! + $0 + "\n" }.joined()))
                        }
                    }
                    try await Task.sleep(for: Self.followInterval)
                }
                try await writer.finish(nil)
            })
    }

    private func events(since: Int, follow: Bool) -> Response {
        let path = handler.paths.eventsFile
        let handler = self.handler
        return Response(
            status: .ok, headers: [.contentType: "application/x-ndjson"],
            body: ResponseBody { writer in
                let follower = FileFollower(path: path)
                repeat {
                    let lines = follower.poll().filter { EventLine.seq(of: $0).map { $0 > since } ?? false }
                    if !lines.isEmpty {
                        try await writer.write(ByteBuffer(string: lines.joined(separator: "\n") + "\n"))
                    }
                    if follow { try await Task.sleep(for: Self.followInterval) }
                } while follow && !handler.closing && !Task.isCancelled
                try await writer.finish(nil)
            })
    }

    private static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: ControlJSON.encode(value) + Data("\n".utf8))))
    }

    private static func databaseResult(_ result: DatabaseResult) -> Response {
        let status: HTTPResponse.Status
        switch result.code {
        case nil: status = .ok
        case MusterError.Code.usage.rawValue?: status = .badRequest
        default: status = .conflict
        }
        return json(result, status: status)
    }

    private static func result(_ result: OperationResult) -> Response {
        let status: HTTPResponse.Status
        switch result.code {
        case nil: status = .ok
        case MusterError.Code.usage.rawValue?, MusterError.Code.invalidStack.rawValue?: status = .badRequest
        default: status = .conflict
        }
        return json(result, status: status)
    }
}
