import Foundation

/// An HTTP/1.x response as muster's one client reads it (probes, https, the control
/// socket): whole, and in pieces whose size comes from the first byte. Both readings
/// must agree (complete with the same status and body, or both failed, or both
/// waiting), a probe's body stays within its limit, and once the peer has closed the
/// parser never asks for more bytes (the client would wait forever).
func fuzzHTTPResponse(_ bytes: [UInt8]) {
    let size = Int(bytes.first ?? 1) % 13 + 1
    for limits in [HTTPResponseParser.Limits.probe, .stream] {
        for closed in [false, true] {
            let whole = readResponse(bytes, pieces: max(bytes.count, 1), limits: limits, closed: closed)
            let split = readResponse(bytes, pieces: size, limits: limits, closed: closed)
            precondition(whole == split, "whole \(whole) and in pieces of \(size) \(split) differ")
            if case let .complete(_, body) = whole, let limit = limits.body { precondition(body.count <= limit) }
            if closed { precondition(whole != .waiting, "a closed connection still waits for bytes") }
        }
    }
}

private enum Reading: Equatable {
    case complete(status: Int, body: [UInt8])
    case failed
    case waiting
}

private func readResponse(_ bytes: [UInt8], pieces size: Int, limits: HTTPResponseParser.Limits, closed: Bool)
    -> Reading
{
    var parser = HTTPResponseParser(limits: limits)
    var position = 0
    var status = 0
    var body: [UInt8] = []
    var closedYet = false
    do {
        while true {
            while let event = try parser.next() {
                switch event {
                case let .head(head):
                    precondition(
                        (0...999).contains(head.status) && !(100...199).contains(head.status) || head.status == 101,
                        "status \(head.status)")
                    status = head.status
                case let .body(piece):
                    precondition(!piece.isEmpty, "an empty piece of body")
                    body += piece
                case .end:
                    return .complete(status: status, body: body)
                }
            }
            if position < bytes.count {
                let end = min(bytes.count, position + size)
                parser.append(bytes[position..<end])
                position = end
            } else if closed && !closedYet {
                parser.peerDidClose()
                closedYet = true
            } else {
                return .waiting
            }
        }
    } catch {
        _ = error.description
        return .failed
    }
}
