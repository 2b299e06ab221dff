import Foundation

/// What a control API request asks, read from its method, path, query and body
/// before any handler runs. This is the part of request handling that is muster's
/// own code (HTTP framing is Hummingbird's), so it is one pure function, fuzzed as
/// the `control` target: any bytes give a route or a usage error naming what is
/// wrong, never a crash, and nothing malformed reaches the handlers.
public enum ControlRoute: Equatable, Sendable {
    case status
    case environment
    case shutdown
    case operation(ControlAction, OperationRequest)
    case database(DatabaseAction, DatabaseRequest)
    case logs(services: [String], tail: Int?, follow: Bool)
    case events(since: Int, follow: Bool)
    case disruptions(from: Double?, to: Double?)
}

/// A request's query parameters, decoded, in order (a name may repeat).
public struct ControlQuery: Sendable {
    public var pairs: [(name: String, value: String)]

    public init(_ pairs: [(name: String, value: String)]) { self.pairs = pairs }

    public func get(_ name: String) -> String? { pairs.first { $0.name == name }?.value }
    public func getAll(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }
}

public enum ControlRequests {
    /// Every route the server registers: method and path.
    public static let routes: [(method: String, path: String)] =
        [
            ("GET", "/v1/status"), ("GET", "/v1/env"), ("GET", "/v1/logs"), ("GET", "/v1/events"),
            ("GET", "/v1/disruptions"), ("GET", "/v1/db/snapshots"), ("POST", "/v1/shutdown"),
        ]
        + ControlAction.allCases.map { ("POST", "/v1/" + $0.rawValue) }
        + DatabaseAction.allCases.filter { $0 != .list }.map { ("POST", "/v1/db/" + $0.rawValue) }

    /// The largest body read: requests are a few hundred bytes.
    public static let bodyLimit = 1 << 20
    /// `timeout_ms` at most a year: a deadline that far is "no deadline".
    static let timeoutLimit = 365 * 24 * 3600 * 1000
    /// `tail=N` at most this many lines.
    static let tailLimit = 10_000_000

    public static func route(method: String, path: String, query: ControlQuery, body: [UInt8]) -> Result<
        ControlRoute, MusterError
    > {
        Result { try parse(method: method, path: path, query: query, body: body) }
            .mapError { $0 as? MusterError ?? MusterError(.usage, "\(method) \(path): \($0)") }
    }

    static func parse(method: String, path: String, query: ControlQuery, body: [UInt8]) throws -> ControlRoute {
        switch (method, path) {
        case ("GET", "/v1/status"): return .status
        case ("GET", "/v1/env"): return .environment
        case ("POST", "/v1/shutdown"): return .shutdown
        case ("GET", "/v1/logs"): return try logs(query)
        case ("GET", "/v1/events"): return try events(query)
        case ("GET", "/v1/disruptions"): return try disruptions(query)
        case ("GET", "/v1/db/snapshots"):
            guard let service = query.get("service"), !service.isEmpty else {
                throw MusterError(.usage, "name the Postgres service: /v1/db/snapshots?service=db")
            }
            return .database(.list, DatabaseRequest(service: service, database: query.get("database")))
        default: break
        }
        let name = path.hasPrefix("/v1/") ? String(path.dropFirst(4)) : ""
        if method == "POST", let action = ControlAction(rawValue: name) {
            return .operation(action, try operation(body))
        }
        if method == "POST", name.hasPrefix("db/"), let action = DatabaseAction(rawValue: String(name.dropFirst(3))),
            action != .list
        {
            return .database(action, try database(action, body))
        }
        let known = routes.map { "\($0.method) \($0.path)" }.joined(separator: ", ")
        throw MusterError(.usage, "no route \(method) \(path); the control API has \(known)")
    }

    static func operation(_ body: [UInt8]) throws -> OperationRequest {
        guard let request = try? ControlJSON.decode(OperationRequest.self, from: Data(body)) else {
            throw MusterError(.usage, "the body must be JSON like {\"services\":[\"api\"]}")
        }
        if let timeout = request.timeoutMs, !(0...timeoutLimit).contains(timeout) {
            throw MusterError(.usage, "timeout_ms must be 0 to \(timeoutLimit) (a year), not \(timeout)")
        }
        if request.services.contains("") || request.profiles?.contains("") == true {
            throw MusterError(.usage, "an empty name in the body; name services and profiles as the stack file does")
        }
        return request
    }

    static func database(_ action: DatabaseAction, _ body: [UInt8]) throws -> DatabaseRequest {
        guard let request = try? ControlJSON.decode(DatabaseRequest.self, from: Data(body)) else {
            throw MusterError(.usage, "the body must be JSON like {\"service\":\"db\",\"database\":\"shop\"}")
        }
        // The names and the count are checked where they are used (DatabaseDesk), for every caller.
        guard !request.service.isEmpty else {
            throw MusterError(.usage, "name the Postgres service: {\"service\":\"db\"}")
        }
        return request
    }

    static func logs(_ query: ControlQuery) throws -> ControlRoute {
        let services = query.getAll("service").flatMap { $0.split(separator: ",").map(String.init) }
        var tail: Int?
        if let text = query.get("tail") {
            guard let value = Int(text), (0...tailLimit).contains(value) else {
                throw MusterError(.usage, "tail=\(shown(text)) is not a number of lines from 0 to \(tailLimit)")
            }
            tail = value
        }
        return .logs(services: services, tail: tail, follow: try flag(query, "follow"))
    }

    static func events(_ query: ControlQuery) throws -> ControlRoute {
        var since = 0
        if let text = query.get("since") {
            guard let value = Int(text), value >= 0 else {
                throw MusterError(.usage, "since=\(shown(text)) is not an event's seq (0 or more)")
            }
            since = value
        }
        return .events(since: since, follow: try flag(query, "follow"))
    }

    static func disruptions(_ query: ControlQuery) throws -> ControlRoute {
        var bounds: [Double?] = []
        for name in ["from", "to"] {
            guard let text = query.get(name), !text.isEmpty else { bounds.append(nil); continue }
            // A `+` of an offset that was not percent-encoded arrives as a space.
            guard let seconds = RFC3339.seconds(text) ?? RFC3339.seconds(text.replacingOccurrences(of: " ", with: "+"))
            else {
                throw MusterError(
                    .usage, "\(name)=\(shown(text)) is not an RFC 3339 time; write it like 2026-12-03T08:00:01.123456Z")
            }
            bounds.append(seconds)
        }
        if let from = bounds[0], let to = bounds[1], from > to {
            throw MusterError(.usage, "from is after to; give a window with from <= to")
        }
        return .disruptions(from: bounds[0], to: bounds[1])
    }

    /// Text from a request, shown in an error line: quoted, control characters escaped,
    /// at most 80 characters, so the error stays one readable line.
    static func shown(_ text: String) -> String {
        let cut = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return "\""
            + cut.unicodeScalars.map { scalar in
                scalar.properties.generalCategory == .control || scalar == "\"" || scalar == "\\"
                    ? scalar.escaped(asASCII: false) : String(scalar)
            }.joined() + "\""
    }

    static func flag(_ query: ControlQuery, _ name: String) throws -> Bool {
        switch query.get(name) {
        case nil, "false", "0": return false
        case "true", "1", "": return true
        case let other?: throw MusterError(.usage, "\(name)=\(shown(other)) must be true or false")
        }
    }
}

extension ControlRequests {
    /// `MUSTER_CONTROL_RECORD=FOLDER` (tests only): every request is written there in
    /// the fuzz target's format, so the `control` corpus holds requests muster's own
    /// clients really sent (FuzzCorpusTests).
    static let recordFolder = ProcessInfo.processInfo.environment["MUSTER_CONTROL_RECORD"]

    static func record(method: String, path: String, query: ControlQuery, body: [UInt8]) {
        guard let folder = recordFolder else { return }
        let name = folder + "/\(getpid())-\(DispatchTime.now().uptimeNanoseconds)"
        _ = FileManager.default.createFile(
            atPath: name, contents: Data(fuzzInput(method: method, path: path, query: query, body: body)))
    }

    /// The `control` target's input: "METHOD PATH\n", the query as NAME=VALUE pairs
    /// joined by "&", "\n", then the body.
    public static func fuzzInput(method: String, path: String, query: ControlQuery, body: [UInt8]) -> [UInt8] {
        Array("\(method) \(path)\n\(query.pairs.map { $0.name + "=" + $0.value }.joined(separator: "&"))\n".utf8) + body
    }

    /// Reads a `control` target's input back: nil when it has no two lines.
    public static func parseFuzzInput(_ bytes: [UInt8]) -> (
        method: String, path: String, query: ControlQuery, body: [UInt8]
    )? {
        guard let first = bytes.firstIndex(of: 10), let second = bytes[(first + 1)...].firstIndex(of: 10) else {
            return nil
        }
        let line = String(decoding: bytes[..<first], as: UTF8.self)
        let space = line.firstIndex(of: " ") ?? line.endIndex
        let pairs = String(decoding: bytes[(first + 1)..<second], as: UTF8.self).split(separator: "&").map { pair in
            let equals = pair.firstIndex(of: "=") ?? pair.endIndex
            return (name: String(pair[..<equals]), value: String(pair[equals...].dropFirst()))
        }
        return (
            String(line[..<space]), String(line[space...].dropFirst()), ControlQuery(pairs),
            Array(bytes[(second + 1)...])
        )
    }
}

/// Cheap access to an event line's `seq` without decoding the whole object.
enum EventLine {
    static func seq(of line: String) -> Int? {
        guard let range = line.range(of: "\"seq\":") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }
}
