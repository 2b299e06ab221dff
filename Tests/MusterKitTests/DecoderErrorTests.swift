import Foundation
import Testing
@testable import MusterKit

/// Every decoder of bytes from a peer fails on garbage, truncation and huge lengths
/// with a `ProtocolError`/`KafkaError` that names the protocol and what was wrong,
/// and never traps or allocates what the peer asks for.
@Suite struct DecoderErrorTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func respError(_ input: [UInt8]) -> ProtocolError? {
        do {
            _ = try RESPDecoder.decode(input)
            return nil
        } catch let error as ProtocolError {
            return error
        } catch {
            Issue.record("not a ProtocolError: \(error)")
            return nil
        }
    }

    @Test func respDecodesWholeRepliesAndWaitsForMore() throws {
        #expect(try RESPDecoder.decode(bytes("+PONG\r\n"))?.0 == .simple("PONG"))
        #expect(try RESPDecoder.decode(bytes("$5\r\nhello\r\n:1\r\n"))?.1 == 11)
        #expect(try RESPDecoder.decode(bytes("*2\r\n:1\r\n$-1\r\n"))?.0 == .array([.integer(1), .bulk(nil)]))
        // Half a reply: not an error, more bytes are needed.
        #expect(try RESPDecoder.decode(bytes("$5\r\nhel")) == nil)
        #expect(try RESPDecoder.decode(bytes("*3\r\n:1\r\n")) == nil)
        #expect(try RESPDecoder.decode(bytes("+PON")) == nil)
    }

    @Test func respRefusesGarbageWithTheBytesItGot() {
        let http = respError(bytes("HTTP/1.1 400 Bad Request\r\n\r\n"))
        #expect(http?.description == "redis: not a RESP reply: got \"HTTP/1.1 400 Bad Request\" at byte 0")
        #expect(http?.problem == .malformed)
        // Garbage without a line end is refused at once, not waited for.
        #expect(
            respError([0x16, 0x03, 0x01, 0x00])?.description.hasPrefix("redis: not a RESP reply: got \"\\x16\\x03")
                == true)
        #expect(respError(bytes(":twelve\r\n"))?.description == "redis: bad integer \"twelve\" at byte 0")
        #expect(respError(bytes("$-7\r\n"))?.problem == .malformed)
        #expect(respError(bytes("+OK\n"))?.description.contains("ends without CR") == true)
        #expect(
            respError(bytes("$3\r\nabcXY"))?.description
                == "redis: bulk string at byte 0 does not end in CRLF after 3 bytes")
    }

    @Test func respRefusesHugeLengthsBeforeAllocating() {
        #expect(respError(bytes("$999999999999\r\n"))?.problem == .tooLarge)
        #expect(
            respError(bytes("*99999999\r\n"))?.description
                == "redis: array of 99999999 elements at byte 0, above the 1048576 muster accepts")
        #expect(respError(Array(repeating: UInt8(ascii: "+"), count: 70_000))?.problem == .tooLarge)
        // Arrays nested without end would overflow the stack.
        #expect(
            respError(Array(String(repeating: "*1\r\n", count: 10_000).utf8))?.description.contains("nested deeper")
                == true)
    }

    @Test func kafkaNamesTheResponseAndWhereItWasCut() throws {
        var cut = KafkaDecoder([0x00, 0x01, 0x02])
        do {
            _ = try cut.int32()
            Issue.record("a truncated int32 decoded")
        } catch let error as KafkaError {
            #expect(error.description == "kafka: truncated at byte 0 of 3 (reading int32 of 4 bytes)")
        }
        let sizes: [(bytes: [UInt8], text: String)] = [
            (
                bytes("HTTP"),
                "kafka: response size 1213486160 (bytes \"HTTP\") is above the 8 MiB muster accepts; not a Kafka broker?"
            ),
            (
                [0, 0, 0, 1],
                "kafka: response size 1 (bytes \"\\x00\\x00\\x00\\x01\") is too small for a response; not a Kafka broker?"
            ),
        ]
        for (prefix, text) in sizes {
            #expect(throws: KafkaError.self) { try KafkaFrame.responseSize(prefix) }
            do { _ = try KafkaFrame.responseSize(prefix) } catch { #expect("\(error)" == text) }
        }
        var array = KafkaDecoder([0x7f, 0xff, 0xff, 0xff])
        do {
            _ = try array.array { try $0.int8() }
        } catch {
            #expect("\(error)" == "kafka: has an invalid array length 2147483647 at byte 0 of 4")
        }
    }

    @Test func kafkaMetadataCutAtEveryByteIsAnErrorNotACrash() throws {
        // A Metadata v7 answer built here, then cut short at every length.
        var body = KafkaEncoder()
        body.int32(0)  // throttle
        body.array([1]) { encoder, id in
            encoder.int32(Int32(id)); encoder.string("127.0.0.1"); encoder.int32(9092); encoder.nullableString(nil)
        }
        body.nullableString("cluster")
        body.int32(1)
        body.array(["orders"]) { encoder, name in
            encoder.int16(0); encoder.string(name); encoder.bool(false)
            encoder.array([0]) { encoder, partition in
                encoder.int16(0); encoder.int32(Int32(partition)); encoder.int32(1); encoder.int32(0)
                encoder.array([1]) { $0.int32(Int32($1)) }; encoder.array([1]) { $0.int32(Int32($1)) };
                encoder.array([Int]()) { $0.int32(Int32($1)) }
            }
        }
        let whole = body.bytes
        var full = KafkaDecoder(whole)
        let metadata = try KafkaMetadata.decode(&full, version: 7)
        #expect(metadata.topics.first?.name == "orders")
        for length in 0..<whole.count {
            var decoder = KafkaDecoder(Array(whole[0..<length]))
            do {
                _ = try KafkaMetadata.decode(&decoder, version: 7)
                Issue.record("Metadata cut at \(length) of \(whole.count) decoded")
            } catch let error as KafkaError {
                #expect(error.description.hasPrefix("kafka: "), "\(error)")
                #expect(error.description.contains("of \(length)"), "\(error)")
            }
        }
    }

    @Test func postgresHeadersAreCheckedBeforeTheBodyIsRead() throws {
        func headerError(_ header: [UInt8]) -> String? {
            do {
                _ = try PostgresConnection.Message.header(header)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(try PostgresConnection.Message.header([0x52, 0, 0, 0, 8]) == ("R", 8))
        #expect(
            headerError(bytes("HTTP/"))
                == "postgres: 'H' message of 1414811695 bytes, above the 8 MiB muster accepts (got \"HTTP/\"); not a Postgres server?"
        )
        #expect(headerError([0x16, 3, 1, 0, 0])?.hasPrefix("postgres: not a backend message: got \"\\x16") == true)
        #expect(
            headerError([0x52, 0, 0, 0, 2])
                == "postgres: 'R' message with length 2, below the 4 of its own length field")
        #expect(headerError([0x52, 0xff, 0xff, 0xff, 0xff])?.contains("below the 4") == true)
    }

    @Test func postgresBodiesCutShortAreTruncationErrors() throws {
        let row = PostgresConnection.Message(type: "D", body: [0, 2, 0, 0, 0, 3, 0x61])
        do {
            _ = try row.dataRow()
            Issue.record("a cut DataRow decoded")
        } catch {
            #expect("\(error)" == "postgres: 'D' message truncated at byte 6 of 7 (a field of 3 bytes)")
        }
        let negative = PostgresConnection.Message(type: "D", body: [0xff, 0xfe])
        #expect(throws: ProtocolError.self) { try negative.dataRow() }
        let hugeField = PostgresConnection.Message(type: "D", body: [0, 1, 0x7f, 0xff, 0xff, 0xff])
        #expect(throws: ProtocolError.self) { try hugeField.dataRow() }
    }

    @Test func httpNamesWhatCameBack() {
        let garbage = HTTPProbe.interpret(bytes("SSH-2.0-OpenSSH_9.2\r\n"), url: "http://x/", identityField: nil)
        #expect(garbage == .failed("http: GET http://x/: not an HTTP response (got \"SSH-2.0-OpenSSH_9.2\\r\\n\")"))
        let nothing = HTTPProbe.interpret([], url: "http://x/", identityField: nil)
        #expect(nothing == .failed("http: GET http://x/: the server closed the connection without an answer"))
    }
}
