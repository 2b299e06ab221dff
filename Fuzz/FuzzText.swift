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
        guard let record = ServiceEvent.parse(String(line)) else { continue }
        _ = record.humanLine(timeZone: TimeZone(identifier: "UTC")!)
        _ = record.date
    }
}

/// A stack file's text through the loader (YAML, interpolation, validation).
func fuzzStack(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? StackLoader.parse(
        yaml: text, file: "fuzz.yaml", directory: FuzzTargets.scratch, environment: ["HOME": FuzzTargets.scratch])
}

extension FuzzTargets {
    /// An empty folder for relative paths in stack files (env_file, includes).
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "muster-fuzz-stack"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()
}

/// Test reports as `muster run --tests` reads them (Playwright JSON, go test
/// -json, muster's tests file; JUnit XML is libxml2's), and JSONCursor, the JSON
/// reader behind them, against Foundation's JSONSerialization: on plain ASCII
/// text without surrogate escapes, nested less than its depth limit, both accept
/// or both refuse.
func fuzzTestReports(_ bytes: [UInt8]) {
    let data = Data(bytes)
    if bytes.first(where: { ![9, 10, 13, 32].contains($0) }) != UInt8(ascii: "<") {
        do {
            _ = try TestReportReader.read(data, file: "fuzz.json")
        } catch is MusterError {
        } catch {
            preconditionFailure("not a MusterError: \(error)")
        }
    }
    let comparable =
        bytes.allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || (0x20..<0x7F).contains($0) }
        && bytes.count(where: { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "{") }) < JSONCursor.maxDepth
        && !bytes.withUnsafeBytes {
            TestReportReader.contains($0, Array("\\ud".utf8)) || TestReportReader.contains($0, Array("\\uD".utf8))
        }
    guard comparable else { return }
    let ours = bytes.withUnsafeBytes { raw -> Bool in
        var cursor = JSONCursor(raw)
        do {
            try cursor.skip()
            try cursor.end()
            return true
        } catch {
            return false
        }
    }
    let foundation = (try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) != nil
    precondition(
        ours == foundation,
        "JSONCursor \(ours ? "accepts" : "refuses") what JSONSerialization \(foundation ? "accepts" : "refuses")")
    // JSONValue reads what the cursor accepts, and its compact text reads back as the same value.
    let value = try? JSONValue.parse(data)
    precondition(
        (value != nil) == ours,
        "JSONValue \(value != nil ? "reads" : "refuses") what JSONCursor \(ours ? "accepts" : "refuses")")
    if let value {
        precondition(
            (try? JSONValue.parse(Data(value.text.utf8))) == value, "JSONValue's text reads back as another value")
    }
}
