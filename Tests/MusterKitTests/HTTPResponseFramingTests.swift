import Testing
@testable import MusterKit

/// HTTP/1.x response framing, as the http probe reads a body for its identity.
@Suite struct HTTPResponseFramingTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func parse(_ text: String, closed: Bool = false) -> HTTPResponseFraming.Outcome {
        HTTPResponseFraming.parse(bytes(text), closed: closed)
    }

    func body(_ outcome: HTTPResponseFraming.Outcome) -> String? {
        if case let .complete(response) = outcome { return String(decoding: response.body, as: UTF8.self) }
        return nil
    }

    @Test func chunkedWithExtensionsAndTrailers() {
        let text =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\n{\"id\"\r\nB\r\n: \"x\"}     \r\n0\r\nX-T: 1\r\n\r\n"
        #expect(body(parse(text)) == "{\"id\": \"x\"}     ")
        // Any prefix is incomplete while the connection is open, and cut short once closed.
        let all = bytes(text)
        for cut in 0..<all.count {
            #expect(HTTPResponseFraming.parse(Array(all[..<cut]), closed: false) == .incomplete, "prefix \(cut)")
            if case .complete = HTTPResponseFraming.parse(Array(all[..<cut]), closed: true) {
                Issue.record("a cut response was taken for complete at \(cut)")
            }
        }
    }

    @Test func lengthAndCloseDelimited() {
        #expect(body(parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdEXTRA")) == "abcd")
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab") == .incomplete)
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", closed: true)
                == .invalid("the body was cut short: Content-Length 4, got 2 bytes"))
        #expect(parse("HTTP/1.0 200 OK\r\n\r\nuntil close") == .incomplete)
        #expect(body(parse("HTTP/1.0 200 OK\r\n\r\nuntil close", closed: true)) == "until close")
        #expect(body(parse("HTTP/1.1 204 No Content\r\n\r\n")) == "")
    }

    @Test func interimResponsesAreSkipped() {
        let text =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        guard case let .complete(response) = parse(text) else { Issue.record("not complete"); return }
        #expect(response.status == 200 && response.body == bytes("ok"))
    }

    @Test func malformedFramingIsNamed() {
        #expect(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                == .invalid("a chunk size that is not hexadecimal: \"zz\""))
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
                == .invalid("two different Content-Length headers (1 and 2)"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")
                == .invalid("a Content-Length that is not one number: \"-1\""))
        #expect(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n")
                == .invalid("a chunk not followed by CRLF after 3 bytes of body"))
        #expect(
            parse("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n")
                == .invalid("a body of 999999999 bytes, above the 256 KiB limit"))
        #expect(parse("SSH-2.0\r\n\r\n") == .invalid("not an HTTP/1.x status line: \"SSH-2.0\""))
    }

    /// The probe's own reading: the identity of a chunked body is the same as of a sized one.
    @Test func theProbeReadsTheSameIdentityFromEveryFraming() {
        let json = "{\"instance\": \"7f3a\"}"
        let chunked =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\(json.prefix(4))\r\n\(String(json.count - 4, radix: 16))\r\n\(json.dropFirst(4))\r\n0\r\n\r\n"
        let sized = "HTTP/1.1 200 OK\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
        let closed = "HTTP/1.0 200 OK\r\n\r\n\(json)"
        for response in [chunked, sized, closed] {
            #expect(
                HTTPProbe.interpret(bytes(response), url: "http://x/", identityField: "instance")
                    == .passed(identity: "7f3a"), "\(response)")
        }
    }
}
