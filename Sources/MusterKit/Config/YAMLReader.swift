import Foundation
import Yams

/// Typed access to Yams nodes that keeps every value's `FILE:LINE:COLUMN`, so each
/// error in a stack file points at the offending key or value.
struct YAMLReader {
    let file: String
    let interpolator: Interpolator
    let report = Interpolator.Report()
    /// For merged files: which file a line of the merged text came from.
    var sources: SourceMap?

    func location(_ node: Node) -> SourceLocation? {
        node.mark.map { mark in
            if let place = sources?.place(ofLine: mark.line) {
                return SourceLocation(file: place.file, line: place.line, column: mark.column)
            }
            return SourceLocation(file: file, line: mark.line, column: mark.column)
        }
    }

    func fail(_ message: String, _ node: Node) -> MusterError {
        .invalid(message + unsetNote(node), at: location(node))
    }

    /// When the value came from variables that are not set (`user: ${DB_USER}`), says
    /// so: otherwise the message quotes an empty value and the cause stays hidden.
    func unsetNote(_ node: Node) -> String {
        guard case let .scalar(scalar) = node, scalar.string.contains("$") else { return "" }
        let unset = Interpolator.Report()
        _ = interpolator.interpolate(scalar.string, report: unset)
        var names: [String] = []
        for name in unset.unset where !names.contains(name) { names.append(name) }
        guard !names.isEmpty else { return "" }
        let list = names.map { "${\($0)}" }.joined(separator: ", ")
        return
            " (\(list) \(names.count == 1 ? "is" : "are") not set: export \(names.count == 1 ? "it" : "them") or add \(names.count == 1 ? "it" : "them") to an env_file)"
    }

    /// The pairs of a mapping, rejecting keys outside `allowed` with a suggestion.
    /// Keys starting with `x-` are extension fields and skipped, as in compose.
    func mapping(_ node: Node, what: String, allowed: [String]? = nil) throws -> [(
        key: String, keyNode: Node, value: Node
    )] {
        guard case let .mapping(mapping) = node else {
            throw fail("\(what) must be a mapping of key: value, not \(describe(node))", node)
        }
        var seen = Set<String>()
        var pairs: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard case let .scalar(scalar) = keyNode else {
                throw fail("keys in \(what) must be plain names", keyNode)
            }
            let key = scalar.string
            if key.hasPrefix("x-") { continue }
            if let allowed, !allowed.contains(key) {
                throw fail("unknown key \"\(key)\" in \(what)\(Suggestion.hint(for: key, in: allowed))", keyNode)
            }
            guard seen.insert(key).inserted else {
                throw fail("duplicate key \"\(key)\" in \(what)", keyNode)
            }
            pairs.append((key, keyNode, value))
        }
        return pairs
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case let .scalar(scalar): return scalar.string.isEmpty ? "an empty value" : "\"\(scalar.string)\""
        case .alias: return "an alias"
        }
    }

    /// A scalar's raw text, without interpolation (names, keys).
    func rawString(_ node: Node, what: String) throws -> String {
        guard case let .scalar(scalar) = node else {
            throw fail("\(what) must be a single value, not \(describe(node))", node)
        }
        return scalar.string
    }

    /// A scalar with `${VAR}` interpolated; service references are kept.
    func template(_ node: Node, what: String) throws -> Template {
        let raw = try rawString(node, what: what)
        switch interpolator.interpolate(raw, report: report) {
        case let .failure(problem): throw fail("\(what): \(problem.message)", node)
        case var .success(template):
            template.location = location(node)
            return template
        }
    }

    /// A scalar with `${VAR}` interpolated; service references are refused here.
    func string(_ node: Node, what: String) throws -> String {
        let value = try template(node, what: what)
        guard value.references.isEmpty else {
            throw fail(
                "\(what) cannot refer to another service's outputs; references work in command, env and probes", node)
        }
        return value.resolve { _, _ in nil }
    }

    func bool(_ node: Node, what: String) throws -> Bool {
        switch try string(node, what: what).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw fail("\(what) must be true or false, not \"\(other)\"", node)
        }
    }

    func int(_ node: Node, what: String, range: ClosedRange<Int>) throws -> Int {
        let text = try string(node, what: what)
        guard let value = Int(text) else {
            throw fail("\(what) must be a whole number, not \"\(text)\"", node)
        }
        guard range.contains(value) else {
            throw fail("\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(value)", node)
        }
        return value
    }

    func duration(_ node: Node, what: String) throws -> Duration {
        switch DurationParser.parse(try string(node, what: what)) {
        case let .success(duration): return duration
        case let .failure(problem): throw fail("\(what): \(problem.message)", node)
        }
    }

    /// The items of a field whose value is a list: every list of the stack file is read
    /// here, so none turns a single value into something the user did not write. A
    /// scalar is refused with the list form that was meant (`databases: shop` → `write
    /// databases: [shop]`); a null (`key:` with nothing after it) or `""` is an empty list.
    /// - Parameters:
    ///   - shape: what the field takes, for the message (`a list or a mapping`).
    ///   - write: the form to suggest for a scalar, when `KEY: [VALUE]` is not it.
    func list(_ node: Node, what: String, shape: String = "a list", write: ((String) -> String?)? = nil) throws
        -> [Node]
    {
        switch node {
        case let .sequence(sequence): return Array(sequence)
        case let .scalar(scalar) where Self.isNull(scalar) || scalar.string.isEmpty: return []
        case let .scalar(scalar):
            let key = Self.fieldKey(what)
            let suggestion = write?(scalar.string) ?? "\(key): [\(Self.flowItem(scalar))]"
            throw fail(
                "\(what) must be \(shape), got the scalar \(Self.quoted(scalar.string)); write \(suggestion)", node)
        default:
            throw fail("\(what) must be \(shape), not \(describe(node))", node)
        }
    }

    /// A list of single values (names, paths), each interpolated.
    func stringList(_ node: Node, what: String) throws -> [(String, Node)] {
        try list(node, what: what).map { item in
            guard case .scalar = item else {
                throw fail("\(what) entries must be single values, not \(describe(item))", item)
            }
            return (try string(item, what: what), item)
        }
    }

    /// A mapping of single values as flow YAML (`{ name: orders, partitions: 3 }`), for
    /// hints; nil when it holds more than single values.
    static func flowMapping(_ node: Node) -> String? {
        guard case let .mapping(mapping) = node, mapping.count > 0 else { return nil }
        var pairs: [String] = []
        for (key, value) in mapping {
            guard case let .scalar(keyScalar) = key, case let .scalar(valueScalar) = value else { return nil }
            pairs.append("\(flowItem(keyScalar)): \(flowItem(valueScalar))")
        }
        return "{ " + pairs.joined(separator: ", ") + " }"
    }

    /// `key:`, `key: ~` and `key: null`, unquoted: no value at all.
    static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// The key a field path ends in: `databases` of `service db.databases`.
    static func fieldKey(_ what: String) -> String {
        String(what.split(whereSeparator: { $0 == " " || $0 == "." }).last ?? Substring(what))
    }

    /// A scalar as an item of a flow list: as written when plain, else double-quoted.
    static func flowItem(_ scalar: Node.Scalar) -> String {
        scalar.style == .plain ? scalar.string : quoted(scalar.string)
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// `env` as a mapping or a compose-style list of `KEY=value`.
    func env(_ node: Node, what: String, environment: [String: String]) throws -> [EnvEntry] {
        if case .scalar = node {
            // Only a null or "" gets past the list reader: no entries.
            _ = try list(node, what: what, shape: "a mapping of KEY: value or a list of KEY=value") { text in
                guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                    return "\(Self.fieldKey(what)): { \(text): VALUE }"
                }
                return "\(Self.fieldKey(what)): { \(text[..<equals]): \(text[text.index(after: equals)...]) }"
            }
            return []
        }
        if case .sequence = node {
            return try list(node, what: what).map { item in
                guard case .scalar = item else {
                    // `- KEY: value` in a list: the KEY=value that was meant.
                    var meant = ""
                    if case let .mapping(mapping) = item, mapping.count == 1, let (key, value) = mapping.first,
                        case let .scalar(keyScalar) = key, case let .scalar(valueScalar) = value
                    {
                        meant = "; write - \(keyScalar.string)=\(valueScalar.string)"
                    }
                    throw fail("\(what) entries must be KEY=value, not \(describe(item))\(meant)", item)
                }
                let text = try rawString(item, what: what)
                guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
                    throw fail("\(what) entries must be KEY=value, not \"\(text)\"", item)
                }
                let key = String(text[..<equals])
                try checkVariableName(key, item)
                var value = try template(item, what: what)
                value.parts = try stripKey(value.parts, key: key, node: item)
                return EnvEntry(key: key, value: value)
            }
        }
        return try mapping(node, what: what).compactMap { pair in
            try checkVariableName(pair.key, pair.keyNode)
            // A plain null (`KEY:`, `KEY: ~`, `KEY: null`), not a quoted "": the tag of an
            // untagged scalar is still unresolved here, so the style decides.
            if case let .scalar(scalar) = pair.value, Self.isNull(scalar) {
                // `KEY:` with no value passes the variable through from muster's environment.
                guard let inherited = environment[pair.key] else { return nil }
                return EnvEntry(key: pair.key, value: Template(literal: inherited))
            }
            return EnvEntry(key: pair.key, value: try template(pair.value, what: "\(what).\(pair.key)"))
        }
    }

    private func checkVariableName(_ key: String, _ node: Node) throws {
        guard let first = key.first, first == "_" || first.isLetter,
            key.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber })
        else {
            throw fail("\"\(key)\" is not a valid environment variable name; use letters, digits and _", node)
        }
    }

    private func stripKey(_ parts: [Template.Part], key: String, node: Node) throws -> [Template.Part] {
        guard case let .literal(first)? = parts.first, first.hasPrefix(key + "=") else {
            throw fail("environment entries must start with a literal KEY=", node)
        }
        let rest = String(first.dropFirst(key.count + 1))
        return (rest.isEmpty ? [] : [.literal(rest)]) + parts.dropFirst()
    }
}
