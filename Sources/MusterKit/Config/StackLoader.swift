import Foundation
import Yams

/// Reads, interpolates and validates a stack file. Any problem is one `MusterError`
/// of code `.invalidStack` (exit 2) whose first line names `FILE:LINE:COLUMN`.
public enum StackLoader {
    /// Larger files are refused before YAML parsing: no stack needs megabytes.
    static let maxFileBytes = 2 << 20
    /// Deeper nesting than this is refused before parsing (stack files are shallow).
    static let maxNesting = 64

    static let topLevelKeys = ["name", "env_file", "env", "logs", "services", "watch"]

    /// The default stack file: `./muster.yaml`, then `./stacks/default.yaml`.
    public static func defaultPath(in directory: String = FileManager.default.currentDirectoryPath) -> String {
        let candidates = ["muster.yaml", "muster.yml", "stacks/default.yaml"].map { directory + "/" + $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[0]
    }

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> StackSpec
    {
        let (absolute, text) = try readText(path)
        var stack = try parse(
            yaml: text, file: path, directory: (absolute as NSString).deletingLastPathComponent,
            environment: environment)
        stack.files = [stack.file]
        return stack
    }

    /// Reads a stack file, with the checks every file gets (exists, readable, size, UTF-8).
    static func readText(_ path: String) throws -> (absolute: String, text: String) {
        let absolute = absolutePath(path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) else {
            throw MusterError(.usage, "stack file \(path) not found; pass -f PATH or create muster.yaml")
        }
        guard !isDirectory.boolValue else {
            throw MusterError(.usage, "stack file \(path) is a directory; pass the YAML file with -f")
        }
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw MusterError(.usage, "stack file \(path) cannot be read; check its permissions")
        }
        guard data.count <= maxFileBytes else {
            throw MusterError.invalid(
                "stack file is \(data.count / 1024) KiB; the limit is \(maxFileBytes / 1024) KiB",
                at: SourceLocation(file: path, line: 1, column: 1))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MusterError.invalid(
                "stack file is not UTF-8 text", at: SourceLocation(file: path, line: 1, column: 1))
        }
        return (absolute, text)
    }

    /// `path` made absolute against the current folder.
    public static func absolute(_ path: String) -> String { absolutePath(path) }

    static func absolutePath(_ path: String) -> String {
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    public static func parse(
        yaml: String, file: String, directory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> StackSpec {
        do {
            return try parseStack(yaml: yaml, file: file, directory: directory, environment: environment)
        } catch var error as MusterError {
            // Messages quote values from the file, and those may hold line breaks.
            error.message = oneLine(error.message)
            if let location = error.location, location.file == file { error.location = clamped(location, in: yaml) }
            throw error
        }
    }

    static func parseStack(yaml: String, file: String, directory: String, environment: [String: String]) throws
        -> StackSpec
    {
        guard let root = try compose(yaml, file: file) else {
            throw MusterError.invalid(
                "stack file is empty; it needs at least a services: block",
                at: SourceLocation(file: file, line: 1, column: 1))
        }
        return try parseRoot(
            root, file: file, directory: directory, environment: environment, sources: nil,
            placeholders: { commentedServices(yaml) })
    }

    /// Services written as commented-out blocks under `services:` (what `muster import`
    /// leaves for a person to complete): `  # api:` lines.
    static func commentedServices(_ yaml: String) -> [String] {
        var inServices = false
        var names: [String] = []
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("services:") { inServices = true; continue }
            if inServices, let first = line.first, first != " ", first != "#" { inServices = false }
            guard inServices, line.hasPrefix("  # "), line.hasSuffix(":") else { continue }
            let name = line.dropFirst(4).dropLast()
            if !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            {
                names.append(String(name))
            }
        }
        return names
    }

    /// The YAML tree of one file, with every check that must come before Yams sees it.
    /// Scalars stay untyped (`Resolver.basic`): the reader decides what a value means
    /// from the field, and Yams' default resolver compiles seven ICU regexes per process.
    static func compose(_ yaml: String, file: String) throws -> Node? {
        try checkNesting(yaml, file: file)
        do {
            try checkAliasKeys(yaml, file: file)
            return try Yams.compose(yaml: yaml, .basic)
        } catch let error as YamlError {
            throw yamlError(error, file: file, yaml: yaml)
        }
    }

    static func parseRoot(
        _ root: Node, file: String, directory: String, environment: [String: String],
        sources: SourceMap?, placeholders: () -> [String] = { [] }
    ) throws -> StackSpec {
        // Pass 1: the top level, to learn env_file before interpolating anything else.
        var plain = YAMLReader(file: file, interpolator: Interpolator(variables: environment))
        plain.sources = sources
        let top = try plain.mapping(root, what: "the stack file", allowed: topLevelKeys)
        var variables = environment
        if let envFile = top.first(where: { $0.key == "env_file" }) {
            let written = try plain.string(envFile.value, what: "env_file")
            switch EnvFile.load(resolve(written, in: directory), display: written) {
            case let .failure(error):
                throw MusterError.invalid("env_file " + error.message, at: plain.location(envFile.value))
            case let .success(pairs):
                for (key, value) in pairs where variables[key] == nil { variables[key] = value }
            }
        }
        var reader = YAMLReader(file: file, interpolator: Interpolator(variables: variables))
        reader.sources = sources

        var stack = StackSpec(name: "", file: file, directory: directory, env: [], services: [], warnings: [])
        var servicesNode: Node?
        for pair in top {
            switch pair.key {
            case "name":
                stack.name = try reader.string(pair.value, what: "name")
                try checkName(stack.name, what: "project name", node: pair.value, reader: reader)
            case "env": stack.env = try reader.env(pair.value, what: "env", environment: variables)
            case "services": servicesNode = pair.value
            case "logs": stack.logs = try reader.logSettings(pair.value, what: "logs")
            case "watch":
                for setting in try reader.mapping(pair.value, what: "watch", allowed: WatchSettings.keys) {
                    stack.watch.debounce = try reader.duration(setting.value, what: "watch.debounce")
                    guard stack.watch.debounce >= .milliseconds(1), stack.watch.debounce <= .seconds(60) else {
                        throw reader.fail("watch.debounce must be from 1ms to 60s", setting.value)
                    }
                }
            default: break
            }
        }
        if stack.name.isEmpty {
            stack.name = sanitizedProjectName(from: directory)
        }
        guard let servicesNode else {
            throw MusterError.invalid(
                "the stack file has no services: block; add one with at least one service",
                at: reader.location(root))
        }
        let empty: Bool = {
            if case let .scalar(scalar) = servicesNode { return scalar.string.isEmpty }
            if case let .mapping(mapping) = servicesNode { return mapping.isEmpty }
            return false
        }()
        if empty, case let commented = placeholders(), !commented.isEmpty {
            throw reader.fail(
                "no service is runnable yet: \(commented.joined(separator: ", ")) \(commented.count == 1 ? "is a" : "are") "
                    + "commented-out placeholder\(commented.count == 1 ? "" : "s"); uncomment one and set its command: "
                    + "(what runs it on this machine)", servicesNode)
        }
        let services = try reader.mapping(servicesNode, what: "services")
        guard !services.isEmpty else {
            throw reader.fail("services is empty; add at least one service", servicesNode)
        }
        for pair in services {
            try checkName(pair.key, what: "service name", node: pair.keyNode, reader: reader)
            let parser = ServiceParser(reader: reader, directory: directory, environment: variables)
            stack.services.append(try parser.parse(name: pair.key, keyNode: pair.keyNode, node: pair.value))
        }
        stack.warnings += stack.services.flatMap(\.watchWarnings)
        stack.warnings += SnapshotKeyFiles.warnings(for: stack.services)
        let unset = Array(Set(reader.report.unset)).sorted()
        if !unset.isEmpty {
            stack.warnings.append("variables not set, interpolated as empty: \(unset.joined(separator: ", "))")
        }
        try StackValidator(stack: stack).validate()
        return stack
    }

    /// The text with its line breaks written as `\n`, `\r` or `\u{2028}`, so that the
    /// first line of an error stays one line.
    static func oneLine(_ text: String) -> String {
        guard text.contains(where: \.isNewline) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\u{0B}", "\u{0C}", "\u{85}", "\u{2028}", "\u{2029}":
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func resolve(_ path: String, in directory: String) -> String {
        let url =
            path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: directory).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    static func checkName(_ name: String, what: String, node: Node, reader: YAMLReader) throws {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        guard !name.isEmpty, allowed, name.count <= 63, name.first != "-" else {
            throw reader.fail("\(what) \"\(name)\" must be 1 to 63 letters, digits, - or _", node)
        }
    }

    /// A project name from a folder: lower case, other characters folded to `-`.
    static func sanitizedProjectName(from directory: String) -> String {
        let base = (directory as NSString).lastPathComponent.lowercased()
        let mapped = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") ? $0 : "-" })
        let trimmed = mapped.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return trimmed.isEmpty ? "default" : String(trimmed.prefix(63))
    }

    /// Refuses absurd nesting before the recursive YAML composer sees it.
    static func checkNesting(_ yaml: String, file: String) throws {
        var depth = 0
        var line = 1, column = 0
        var inQuote: Character?
        for char in yaml {
            column += 1
            if char == "\n" { line += 1; column = 0; continue }
            if let quote = inQuote { if char == quote { inQuote = nil }; continue }
            switch char {
            case "\"", "'": inQuote = char
            case "[", "{":
                depth += 1
                if depth > maxNesting {
                    throw MusterError.invalid(
                        "nesting deeper than \(maxNesting) levels; a stack file never needs that",
                        at: SourceLocation(file: file, line: line, column: column))
                }
            case "]", "}": depth = max(0, depth - 1)
            default: break
            }
        }
        var indentLine = 0
        for text in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            indentLine += 1
            let indent = text.prefix { $0 == " " }.count
            if indent > maxNesting * 8 {
                throw MusterError.invalid(
                    "nesting deeper than \(maxNesting) levels; a stack file never needs that",
                    at: SourceLocation(file: file, line: indentLine, column: indent + 1))
            }
        }
    }

    static func character(in yaml: String, at mark: Mark) -> Character? {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let line = lines[mark.line - 1]
        guard mark.column >= 1, mark.column <= line.count else { return nil }
        return line[line.index(line.startIndex, offsetBy: mark.column - 1)]
    }

    /// Points at the second occurrence of a repeated key in a block mapping.
    static func duplicateKey(_ key: String, mapping: Mark, yaml: String, file: String) -> MusterError {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
        var seen = 0
        var index = mapping.line - 1
        while index < lines.count {
            let line = lines[index]
            let indent = line.prefix { $0 == " " }.count
            if index > mapping.line - 1, indent < mapping.column - 1, !line.trimmingCharacters(in: .whitespaces).isEmpty
            {
                break
            }
            let body = line.dropFirst(indent)
            if indent == mapping.column - 1, body.hasPrefix(key),
                body.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix(":")
            {
                seen += 1
                if seen == 2 {
                    let place = mapping.column == 1 ? "the stack file" : "the mapping at line \(mapping.line)"
                    return .invalid(
                        "duplicate key \"\(key)\" in \(place); keep one",
                        at: SourceLocation(file: file, line: index + 1, column: indent + 1))
                }
            }
            index += 1
        }
        return .invalid(
            "duplicate key \"\(key)\" in a mapping; keep one",
            at: SourceLocation(file: file, line: mapping.line, column: mapping.column))
    }

    /// libyaml puts the end of a file that lacks a final newline (and an empty node
    /// there) on a line after the last; point at the end of the last line instead.
    static func clamped(_ location: SourceLocation, in yaml: String) -> SourceLocation {
        let lines = yaml.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        guard location.line > lines.count, let last = lines.last else { return location }
        return SourceLocation(file: location.file, line: lines.count, column: last.unicodeScalars.count + 1)
    }

    static func yamlError(_ error: YamlError, file: String, yaml: String) -> MusterError {
        switch error {
        case let .scanner(context, problem, mark, yaml), let .parser(context, problem, mark, yaml),
            let .composer(context, problem, mark, yaml):
            var message = problem
            var at = mark
            let contextText = context?.text ?? ""
            if let context, contextText.contains("quoted scalar") {
                message = "quoted string is never closed (\(problem))"
                at = context.mark
            } else if let context, contextText.contains("flow sequence") {
                message = "\"[\" is never closed (\(problem))"
                at = context.mark
            } else if let context, contextText.contains("flow mapping") {
                message = "\"{\" is never closed (\(problem))"
                at = context.mark
            } else if problem.contains("cannot start any token"), character(in: yaml, at: mark) == "\t" {
                message = "tab character in indentation; indent with spaces"
            } else if problem == "did not find expected key" {
                message = problem + "; check the indentation of this line"
            }
            return .invalid(
                "YAML syntax error: \(message)", at: SourceLocation(file: file, line: at.line, column: at.column))
        case let .reader(problem, _, _, _):
            return .invalid("YAML cannot be read: \(problem)", at: SourceLocation(file: file, line: 1, column: 1))
        case let .duplicatedKeysInMapping(duplicates, context):
            return duplicateKey(duplicates.first ?? "?", mapping: context.mark, yaml: yaml, file: file)
        default:
            return .invalid("YAML error: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }
}
