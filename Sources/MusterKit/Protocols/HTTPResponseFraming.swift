/// A whole HTTP/1.x response already in memory, read by the one response parser
/// (`HTTPResponseParser`) with a probe's limits: what the http probe's pure reading
/// (`HTTPProbe.interpret`), its tests and its fuzz target see.
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

    /// The response in `bytes`; `closed` says the peer closed the connection after them.
    static func parse(_ bytes: [UInt8], closed: Bool, limits: HTTPResponseParser.Limits = .probe) -> Outcome {
        switch read(bytes, closed: closed, limits: limits) {
        case let .success(response?): .complete(response)
        case .success(nil): .incomplete
        case let .failure(failure): .invalid(failure.text)
        }
    }

    /// The response, nil while incomplete, or why it is not one.
    static func read(
        _ bytes: [UInt8], closed: Bool,
        limits: HTTPResponseParser.Limits = .probe
    ) -> Result<Response?, HTTPResponseParser.Failure> {
        var parser = HTTPResponseParser(limits: limits)
        parser.append(bytes)
        if closed { parser.peerDidClose() }
        var status = 0
        var body: [UInt8] = []
        do {
            while let event = try parser.next() {
                switch event {
                case let .head(head): status = head.status
                case let .body(piece): body += piece
                case .end: return .success(Response(status: status, body: body))
                }
            }
        } catch {
            return .failure(error)
        }
        return .success(nil)
    }
}
