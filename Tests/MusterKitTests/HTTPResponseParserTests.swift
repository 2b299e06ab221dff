import Testing
@testable import MusterKit

/// The one response parser read as a stream: pieces of any size give the same
/// response, the body is handed out as it arrives, and the connection is kept only
/// when the response says so and ended by its own framing.
@Suite struct HTTPResponseParserTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Status, body and whether the connection can be reused, feeding `size` bytes at a time.
    func read(
        _ text: String, pieces size: Int, limits: HTTPResponseParser.Limits = .probe,
        close: Bool = false
    ) throws -> (status: Int, body: String, reusable: Bool, pieces: Int)? {
        var parser = HTTPResponseParser(limits: limits)
        let all = bytes(text)
        var position = 0
        var status = 0
        var body: [UInt8] = []
        var pieces = 0
        while true {
            while let event = try parser.next() {
                switch event {
                case let .head(head): status = head.status
                case let .body(piece): body += piece; pieces += 1
                case .end: return (status, String(decoding: body, as: UTF8.self), parser.reusable, pieces)
                }
            }
            if position == all.count {
                guard close else { return nil }
                parser.peerDidClose()
                continue
            }
            let end = min(all.count, position + size)
            parser.append(all[position..<end])
            position = end
        }
    }

    static let responses = [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\n{\"id\"\r\nB\r\n: \"x\"}     \r\n0\r\nX-T: 1\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 11\r\n\r\nhello world",
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"instance\": \"7f3a\"}",
    ]

    @Test(arguments: responses)
    func everySplitGivesTheSameResponse(_ text: String) throws {
        let whole = try #require(try read(text, pieces: text.utf8.count, close: true))
        for size in 1...9 {
            let split = try #require(try read(text, pieces: size, close: true), "size \(size)")
            #expect(split.status == whole.status && split.body == whole.body, "pieces of \(size)")
        }
    }

    @Test func theBodyIsHandedOutAsItArrives() throws {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(repeating: "10\r\n0123456789abcdef\r\n", count: 4) + "0\r\n\r\n"
        let read = try #require(try read(text, pieces: 7))
        #expect(read.body == String(repeating: "0123456789abcdef", count: 4))
        #expect(read.pieces > 4, "pieces of a chunk come out before the chunk is complete")
    }

    @Test func theConnectionIsKeptOnlyWhenTheResponseSaysSoAndEndedByItsFraming() throws {
        #expect(try read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", pieces: 100)?.reusable == true)
        #expect(
            try read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", pieces: 100)?.reusable == true)
        #expect(
            try read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", pieces: 100)?.reusable
                == false)
        #expect(try read("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", pieces: 100)?.reusable == false)
        #expect(
            try read("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", pieces: 100)?.reusable
                == true)
        #expect(try read("HTTP/1.1 200 OK\r\n\r\nuntil the close", pieces: 100, close: true)?.reusable == false)
        // Bytes past the response: not a connection to send the next request on.
        #expect(try read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", pieces: 100)?.reusable == false)
    }

    @Test func sizesAreBounded() {
        let longHead = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 70 * 1024) + "\r\n\r\n"
        #expect(throws: HTTPResponseParser.Failure.self) { try read(longHead, pieces: 4096) }
        #expect(
            HTTPResponseFraming.parse(bytes(longHead), closed: true) == .invalid("no end of the headers within 64 KiB"))
        let bigChunk =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n" + String(repeating: "x", count: 0x80000)
            + "\r\n0\r\n\r\n"
        #expect(
            HTTPResponseFraming.parse(bytes(bigChunk), closed: false)
                == .invalid("a chunked body above the 256 KiB limit"))
        // A stream (the control API's event stream) has no limit on its body.
        #expect((try? read(bigChunk, pieces: 65536, limits: .stream))??.body.count == 0x80000)
        let noStatusLine = "HTTP/1.1 200 " + String(repeating: "x", count: 70 * 1024)
        #expect(
            HTTPResponseFraming.parse(bytes(noStatusLine), closed: false) == .invalid("no status line within 64 KiB"))
    }

    @Test func whatIsNotHTTPFailsAtOnce() {
        // Twelve bytes that cannot begin a status line: no wait for a line end.
        #expect(throws: HTTPResponseParser.Failure.self) { try read("SSH-2.0-OpenSSH_9.2", pieces: 100) }
        #expect(HTTPResponseFraming.parse(bytes("HTTP/1.1 200 OK"), closed: false) == .incomplete)
        #expect(
            HTTPResponseFraming.parse(bytes("HTTP/1.1 200 OK"), closed: true) == .invalid("the headers were cut short"))
    }
}
