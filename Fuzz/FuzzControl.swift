import Foundation

/// A control API request as the server reads it after Hummingbird's HTTP framing:
/// method, path, query and body through `ControlRequests.route`, and the answers the
/// CLI decodes. Any input gives a route or a usage error of one line; a route holds
/// nothing the handlers could trip on; and a route's body, encoded again, reads back
/// as the same route.
func fuzzControl(_ bytes: [UInt8]) {
    guard let input = ControlRequests.parseFuzzInput(bytes) else { return }
    // The path as sent, and every route's own path with this query and body.
    var tries = [(input.method, input.path)]
    if let index = bytes.first.map({ Int($0) % ControlRequests.routes.count }) {
        tries.append(ControlRequests.routes[index])
    }
    for (method, path) in tries {
        switch ControlRequests.route(method: method, path: path, query: input.query, body: input.body) {
        case let .failure(error):
            precondition(error.code == .usage, "a malformed request is a usage error")
            precondition(!error.headline.isEmpty && !error.headline.contains("\n"), "one line: \(error.headline)")
        case let .success(route):
            check(route, method: method, path: path)
        }
    }
    _ = try? ControlJSON.decode(StatusReport.self, from: Data(input.body))
    _ = try? ControlJSON.decode(OperationResult.self, from: Data(input.body))
    _ = EventLine.seq(of: String(decoding: input.body, as: UTF8.self))
}

private func check(_ route: ControlRoute, method: String, path: String) {
    switch route {
    case let .operation(_, request):
        if let timeout = request.timeoutMs {
            _ = ContinuousClock.now + .milliseconds(timeout)  // the handler's deadline: must not overflow
        }
        roundTrip(route, method: method, path: path, body: ControlJSON.encode(request))
    case let .database(action, request) where action != .list:
        roundTrip(route, method: method, path: path, body: ControlJSON.encode(request))
    case let .logs(_, tail, _):
        precondition(tail.map { $0 >= 0 } ?? true)
    case let .events(since, _):
        precondition(since >= 0)
    case let .disruptions(from, to):
        if let from, let to { precondition(from <= to) }
    default:
        break
    }
}

private func roundTrip(_ route: ControlRoute, method: String, path: String, body: Data) {
    guard
        case let .success(again) = ControlRequests.route(
            method: method, path: path, query: ControlQuery([]), body: Array(body))
    else {
        preconditionFailure(
            "\(method) \(path): the body encoded again is refused: \(String(decoding: body, as: UTF8.self))")
    }
    precondition(again == route, "\(method) \(path): \(again) != \(route)")
}
