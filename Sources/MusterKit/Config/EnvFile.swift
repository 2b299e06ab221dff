import Foundation

/// Reads dotenv files the way compose does: `KEY=value`, `export KEY=value`,
/// `# comments`, single quotes literal, double quotes with `\n` escapes.
public enum EnvFile {
    public static func parse(_ text: String, file: String) -> Result<[(String, String)], MusterError> {
        var result: [(String, String)] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let equals = line.firstIndex(of: "=") else {
                return .failure(
                    .invalid(
                        "line \(offset + 1) is not KEY=value: \"\(line)\"",
                        at: SourceLocation(file: file, line: offset + 1, column: 1)))
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) else {
                return .failure(
                    .invalid(
                        "line \(offset + 1) has a bad variable name \"\(key)\"",
                        at: SourceLocation(file: file, line: offset + 1, column: 1)))
            }
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
                value = String(value.dropFirst().dropLast())
            } else if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
                    .replacingOccurrences(of: "\\n", with: "\n")
                    .replacingOccurrences(of: "\\\"", with: "\"")
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            result.append((key, value))
        }
        return .success(result)
    }

    /// Loads a file; `display` is the path as the stack file wrote it, for messages.
    public static func load(_ path: String, display: String) -> Result<[(String, String)], MusterError> {
        guard FileManager.default.fileExists(atPath: path) else {
            return .failure(MusterError(.invalidStack, "\(display) does not exist; create it or remove env_file"))
        }
        // A bounded read: a device such as /dev/zero would otherwise be read forever.
        let handle = FileHandle(forReadingAtPath: path)
        defer { try? handle?.close() }
        guard let handle, let data = try? handle.read(upToCount: StackLoader.maxFileBytes + 1) ?? Data() else {
            return .failure(MusterError(.invalidStack, "\(display) cannot be read; check its permissions"))
        }
        guard data.count <= StackLoader.maxFileBytes else {
            return .failure(
                MusterError(
                    .invalidStack,
                    "\(display) is larger than \(StackLoader.maxFileBytes / 1024) KiB; an env_file never needs that"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(MusterError(.invalidStack, "\(display) is not UTF-8 text"))
        }
        return parse(text, file: path).mapError { MusterError(.invalidStack, "\(display) \($0.message)") }
    }
}
