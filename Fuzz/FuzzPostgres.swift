import Foundation

/// Backend messages as PostgresConnection reads them: each 5-byte header goes
/// through `Message.header` (type and length checked before any allocation),
/// then the decoders muster applies to the bodies it looks into.
func fuzzPostgres(_ bytes: [UInt8]) {
    var offset = 0
    while bytes.count - offset >= 5 {
        guard let (type, length) = try? PostgresConnection.Message.header(Array(bytes[offset..<(offset + 5)])) else {
            return
        }
        let end = offset + 1 + length
        guard end <= bytes.count else { return }
        let message = PostgresConnection.Message(type: type, body: Array(bytes[(offset + 5)..<end]))
        offset = end
        switch type {
        case "D": _ = try? message.dataRow()
        case "E", "N": _ = message.errorText()
        case "R":
            var reader = message.reader
            guard let code = try? reader.int32() else { continue }
            if code == 10 { _ = reader.strings() } else { _ = reader.rest() }
        default: continue
        }
    }
}

/// The SCRAM exchange, from the client's side. The input is the client nonce,
/// the server's first message and (optionally) its final message, one per line,
/// so the fuzzer reaches past the nonce check. The derivation runs only for
/// iteration counts up to Postgres' default: the cost of a large count is
/// bounded by the cap the parser enforces, not a decoding matter.
func fuzzSCRAM(_ bytes: [UInt8]) {
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    guard lines.count >= 2, !lines[0].isEmpty else { return }
    let client = SCRAMClient(password: "fuzz", clientNonce: String(lines[0]))
    let serverFirst = String(lines[1])
    guard let fields = try? client.serverFirstFields(serverFirst), fields.iterations <= 4096,
        let (final, signature) = try? client.clientFinal(serverFirst: serverFirst)
    else { return }
    precondition(final.hasPrefix("c=biws,r=" + fields.nonce + ",p="))
    if lines.count >= 3 { _ = lines[2] == "v=" + signature }
}
