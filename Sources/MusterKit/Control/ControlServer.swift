import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

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

public enum ControlAction: String, Sendable, CaseIterable {
    case start, stop, restart
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

    private func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let handler = self.handler
        router.get("/v1/status") { _, _ in Self.json(await handler.status()) }
        router.get("/v1/env") { _, _ in Self.json(await handler.environment()) }
        for action in ControlAction.allCases {
            router.post("/v1/\(action.rawValue)") { request, context in
                let body = try await request.body.collect(upTo: 1 << 20)
                guard let operation = try? ControlJSON.decode(OperationRequest.self, from: Data(buffer: body)) else {
                    return Self.json(OperationResult(MusterError(.usage, "the body must be JSON like {\"services\":[\"api\"]}")), status: .badRequest)
                }
                return Self.result(await handler.perform(action, operation))
            }
        }
        router.post("/v1/shutdown") { _, _ in Self.result(await handler.shutdown()) }
        for action in DatabaseAction.allCases where action != .list {
            router.post("/v1/db/\(action.rawValue)") { request, _ in
                let body = try await request.body.collect(upTo: 1 << 20)
                guard let operation = try? ControlJSON.decode(DatabaseRequest.self, from: Data(buffer: body)) else {
                    return Self.json(DatabaseResult(MusterError(.usage, "the body must be JSON like {\"service\":\"db\",\"database\":\"shop\"}")), status: .badRequest)
                }
                return Self.databaseResult(await handler.database(action, operation))
            }
        }
        router.get("/v1/db/snapshots") { request, _ in
            let query = request.uri.queryParameters
            guard let service = query.get("service") else {
                return Self.json(DatabaseResult(MusterError(.usage, "name the Postgres service: /v1/db/snapshots?service=db")), status: .badRequest)
            }
            return Self.databaseResult(await handler.database(.list, DatabaseRequest(service: service, database: query.get("database"))))
        }
        router.get("/v1/logs") { request, _ in try await self.logs(request) }
        router.get("/v1/events") { request, _ in self.events(request) }
        router.get("/v1/disruptions") { request, _ in await self.disruptions(request) }
        return router
    }

    /// The one definition (`Disruption.from`) over the events of this supervisor's
    /// life, so test plugins never re-implement it.
    private func disruptions(_ request: Request) async -> Response {
        let query = request.uri.queryParameters
        var bounds: [Double?] = []
        for name in ["from", "to"] {
            guard let text = query.get(name), !text.isEmpty else { bounds.append(nil); continue }
            // A `+` of an offset that was not percent-encoded arrives as a space.
            guard let seconds = RFC3339.seconds(text) ?? RFC3339.seconds(text.replacingOccurrences(of: " ", with: "+")) else {
                let error = MusterError(.usage, "\(name)=\(text) is not an RFC 3339 time; write it like 2026-12-03T08:00:01.123456Z")
                return Self.json(OperationResult(error), status: .badRequest)
            }
            bounds.append(seconds)
        }
        if let from = bounds[0], let to = bounds[1], from > to {
            return Self.json(OperationResult(MusterError(.usage, "from is after to; give a window with from <= to")), status: .badRequest)
        }
        let since = RFC3339.seconds(await handler.status().started) ?? 0
        let events = EventRecord.read(handler.paths.eventsFile).filter { (RFC3339.seconds($0.time) ?? 0) >= since }
        let found = Disruption.from(events).filter { $0.overlaps(from: bounds[0], to: bounds[1]) }
        return Self.json(DisruptionsReport(disruptions: found))
    }

    private func logs(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let known = await handler.status().services.map(\.name)
        let named = query.getAll("service").flatMap { $0.split(separator: ",").map(String.init) }
        let services = named.isEmpty ? known : named
        for name in services where !known.contains(name) {
            return Self.json(OperationResult(MusterError(.usage, "no service \"\(name)\"\(Suggestion.hint(for: name, in: known))")), status: .badRequest)
        }
        let tail = query.get("tail").flatMap { Int($0) }
        let follow = query.get("follow") == "true" || query.get("follow") == "1"
        let width = services.map(\.count).max() ?? 0
        let prefixes = Dictionary(uniqueKeysWithValues: services.map { name in
            (name, services.count > 1 ? name.padding(toLength: width, withPad: " ", startingAt: 0) + " │ " : "")
        })
        let paths = handler.paths
        let handler = self.handler
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody { writer in
            var followers: [(String, FileFollower)] = []
            for name in services {
                // Older lines from the rotated files first, then NAME.log.
                // A running service's last line may be half written: it is shown once whole.
                let (lines, end) = FileTail.snapshot(ofFiles: LogFiles.all(paths.logFile(for: name)), count: tail, wholeLines: true)
                if !lines.isEmpty {
                    try await writer.write(ByteBuffer(string: lines.map { prefixes[name]! + $0 + "\n" }.joined()))
                }
                followers.append((name, FileFollower(path: paths.logFile(for: name), offset: end)))
            }
            while follow, !handler.closing, !Task.isCancelled {
                for (name, follower) in followers {
                    let lines = follower.poll()
                    if !lines.isEmpty { try await writer.write(ByteBuffer(string: lines.map { prefixes[name]! + $0 + "\n" }.joined())) }
                }
                try await Task.sleep(for: Self.followInterval)
            }
            try await writer.finish(nil)
        })
    }

    private func events(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let since = query.get("since").flatMap { Int($0) } ?? 0
        let follow = query.get("follow") == "true" || query.get("follow") == "1"
        let path = handler.paths.eventsFile
        let handler = self.handler
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
            let follower = FileFollower(path: path)
            repeat {
                let lines = follower.poll().filter { EventLine.seq(of: $0).map { $0 > since } ?? false }
                if !lines.isEmpty { try await writer.write(ByteBuffer(string: lines.joined(separator: "\n") + "\n")) }
                if follow { try await Task.sleep(for: Self.followInterval) }
            } while follow && !handler.closing && !Task.isCancelled
            try await writer.finish(nil)
        })
    }

    private static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
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

/// Cheap access to an event line's `seq` without decoding the whole object.
enum EventLine {
    static func seq(of line: String) -> Int? {
        guard let range = line.range(of: "\"seq\":") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
