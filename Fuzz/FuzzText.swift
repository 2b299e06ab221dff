import Foundation

/// RESP replies as RESPClient reads them: one reply after another from the
/// buffer, and INFO fields looked up in bulk strings.
func fuzzRESP(_ bytes: [UInt8]) {
    var buffer = bytes
    while !buffer.isEmpty, let (reply, used) = try? RESPDecoder.decode(buffer) {
        precondition(used > 0 && used <= buffer.count)
        buffer.removeFirst(used)
        if case .bulk(let text?) = reply { _ = RESPClient.infoField("role", in: text) }
    }
}

/// What an http probe read from the socket: status line, then the identity
/// field of a JSON body.
func fuzzHTTP(_ bytes: [UInt8]) {
    _ = HTTPProbe.interpret(bytes, url: "http://127.0.0.1:1/health", identityField: "version")
    _ = HTTPProbe.interpret(bytes, url: "http://127.0.0.1:1/health", identityField: nil)
}

/// Lines of events.jsonl read back, and the human line `events` prints for each.
func fuzzEvents(_ bytes: [UInt8]) {
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        guard let record = EventRecord.parse(String(line)) else { continue }
        _ = record.humanLine(timeZone: TimeZone(identifier: "UTC")!)
        _ = record.date
    }
}

/// A stack file's text through the loader (YAML, interpolation, validation).
func fuzzStack(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? StackLoader.parse(yaml: text, file: "fuzz.yaml", directory: FuzzTargets.scratch, environment: ["HOME": FuzzTargets.scratch])
}

extension FuzzTargets {
    /// An empty folder for relative paths in stack files (env_file, includes).
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "muster-fuzz-stack"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()
}
