import Foundation

/// A YAML value to print. Import and export write YAML as text themselves (Yams'
/// emitter drops comments and chooses its own quoting), so this is the small tree
/// they build: strings are quoted only where a YAML reader would misread them.
public indirect enum YAMLNode: Sendable {
    /// Text, printed plain when safe and double-quoted otherwise.
    case string(String)
    case number(Int)
    case bool(Bool)
    /// Nothing after the colon: `KEY:` (an env entry passed through, for example).
    case null
    /// Several lines, printed as a literal block (`|`) so scripts stay readable.
    case block(String)
    /// A list printed one item per line.
    case list([YAMLNode])
    /// A list of scalars printed on one line, `[a, b]`, as people write commands.
    case flow([YAMLNode])
    case map([YAMLPair])
}

/// One `key: value` of a mapping, with comment lines printed above it and an
/// optional comment at the end of its line.
public struct YAMLPair: Sendable {
    public var key: String
    public var value: YAMLNode
    public var comments: [String]
    public var trailing: String?

    public init(_ key: String, _ value: YAMLNode, comments: [String] = [], trailing: String? = nil) {
        self.key = key
        self.value = value
        self.comments = comments
        self.trailing = trailing
    }
}

/// Prints `YAMLNode` trees and quotes scalars.
public enum YAMLText {
    /// Words YAML 1.1 or 1.2 readers turn into booleans or null.
    static let reservedWords: Set<String> = ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"]

    /// `text` as a scalar that reads back as exactly this string.
    /// - Parameter flow: inside `[...]`, where `,[]{}` also end a plain scalar.
    public static func scalar(_ text: String, flow: Bool = false) -> String {
        needsQuotes(text, flow: flow) ? quoted(text) : text
    }

    /// Double-quoted with escapes, valid whatever the text holds.
    public static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                    || scalar.value == 0xFEFF || scalar.value == 0x2028 || scalar.value == 0x2029
                {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func needsQuotes(_ text: String, flow: Bool) -> Bool {
        guard let first = text.first, let last = text.last else { return true }
        if first == " " || last == " " || reservedWords.contains(text.lowercased()) { return true }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0.value >= 0x80 }) {
            return true
        }
        if "?:,[]{}#&*!|>'\"%@`".contains(first) { return true }
        if first == "-" && (text.count == 1 || text.dropFirst().first == " " || looksNumeric(text)) { return true }
        if text.contains(": ") || text.contains(" #") || last == ":" { return true }
        // libyaml reads any `:` inside a flow collection as a key indicator.
        if flow && text.contains(where: { ",[]{}:#".contains($0) }) { return true }
        return looksNumeric(text)
    }

    /// Anything a reader could take for a number (ints, floats, hex, octal, `1_000`,
    /// YAML 1.1 sexagesimal `1:30`, `.inf`): those must stay strings.
    static func looksNumeric(_ text: String) -> Bool {
        let body = text.first == "-" || text.first == "+" ? String(text.dropFirst()) : text
        guard let first = body.first else { return false }
        if [".inf", ".nan"].contains(body.lowercased()) { return true }
        guard first.isNumber || first == "." else { return false }
        let numberish = Set("0123456789abcdefABCDEFxXoO._:+-")
        return body.allSatisfy { numberish.contains($0) }
    }

    /// The lines of a mapping at `indent` spaces.
    public static func lines(_ pairs: [YAMLPair], indent: Int = 0) -> [String] {
        var out: [String] = []
        let pad = String(repeating: " ", count: indent)
        for pair in pairs {
            for comment in pair.comments {
                out += comment.split(separator: "\n", omittingEmptySubsequences: false).map { pad + "# " + $0 }
            }
            let key = scalar(pair.key)
            let tail = pair.trailing.map { "  # " + $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
            switch pair.value {
            case let .map(children) where !children.isEmpty:
                out.append(pad + key + ":" + tail)
                out += lines(children, indent: indent + 2)
            case let .list(items) where !items.isEmpty:
                out.append(pad + key + ":" + tail)
                out += listLines(items, indent: indent + 2)
            case let .block(text) where blockable(text):
                out.append(pad + key + ": |" + (text.hasSuffix("\n") ? "" : "-") + tail)
                let inner = String(repeating: " ", count: indent + 2)
                let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
                out += body.split(separator: "\n", omittingEmptySubsequences: false).map {
                    $0.isEmpty ? "" : inner + $0
                }
            case .null:
                out.append(pad + key + ":" + tail)
            default:
                out.append(pad + key + ": " + inline(pair.value) + tail)
            }
        }
        return out
    }

    /// Items of a block list; a mapping item starts on the dash's line.
    static func listLines(_ items: [YAMLNode], indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var out: [String] = []
        for item in items {
            switch item {
            case let .map(children) where !children.isEmpty:
                var nested = lines(children, indent: indent + 2)
                if let index = nested.firstIndex(where: { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }) {
                    nested[index] = pad + "- " + nested[index].dropFirst(indent + 2)
                    // Comments above the item sit at the dash, not at its keys.
                    for comment in 0..<index { nested[comment] = pad + nested[comment].dropFirst(indent + 2) }
                }
                out += nested
            case let .list(inner) where !inner.isEmpty:
                out.append(pad + "-")
                out += listLines(inner, indent: indent + 2)
            default:
                out.append(pad + "- " + inline(item))
            }
        }
        return out
    }

    /// A value that fits on the key's line.
    static func inline(_ node: YAMLNode, flow: Bool = false) -> String {
        switch node {
        case let .string(text), let .block(text): return scalar(text, flow: flow)
        case let .number(value): return String(value)
        case let .bool(value): return value ? "true" : "false"
        case .null: return "null"
        case let .flow(items), let .list(items):
            return "[" + items.map { inline($0, flow: true) }.joined(separator: ", ") + "]"
        case let .map(pairs):
            return "{"
                + pairs.map { scalar($0.key, flow: true) + ": " + inline($0.value, flow: true) }.joined(separator: ", ")
                + "}"
        }
    }

    /// A literal block keeps text exactly only when no line starts with a space
    /// (that would need an indentation indicator) and nothing is unprintable.
    static func blockable(_ text: String) -> Bool {
        guard !text.isEmpty, text.first != " ", text.first != "\n" else { return false }
        let body = text.hasSuffix("\n") ? String(text.dropLast()) : text
        if body.hasSuffix("\n") { return false }
        return !text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x7F }
            && !body.split(separator: "\n").contains { $0.hasSuffix(" ") }
    }

    /// A whole document: the header comment lines, then the mapping.
    public static func document(_ pairs: [YAMLPair], header: [String] = []) -> String {
        (header.map { $0.isEmpty ? "#" : "# " + $0 } + lines(pairs)).joined(separator: "\n") + "\n"
    }

    /// The same lines turned into comments, for placeholders a person completes.
    public static func commentedOut(_ pairs: [YAMLPair], indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        return lines(pairs, indent: 0).map { pad + "# " + $0 }
    }
}
