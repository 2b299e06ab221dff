import Foundation
import Yams

/// Lenient readers for the shapes a compose file allows (a command as a string or
/// a list, environment as a map or `KEY=value` lines, ports in short or long form).
/// Import should take what it understands and report the rest, so nothing here throws.
enum ComposeValues {
    static func string(_ node: Node?) -> String? {
        guard case let .scalar(scalar)? = node else { return nil }
        return scalar.string
    }

    static func pairs(_ node: Node?) -> [(key: String, value: Node)] {
        guard case let .mapping(mapping)? = node else { return [] }
        return mapping.compactMap { key, value in string(key).map { ($0, value) } }
    }

    static func value(_ node: Node?, _ key: String) -> Node? {
        pairs(node).first { $0.key == key }?.value
    }

    static func strings(_ node: Node?) -> [String]? {
        guard case let .sequence(items)? = node else { return nil }
        return items.compactMap { string($0) }
    }

    /// A compose command: a string is split as a shell would split words (compose
    /// does the same for `command:`), a list is taken as is.
    static func words(_ node: Node?) -> [String]? {
        if let text = string(node) { return shellWords(text) }
        return strings(node)
    }

    /// Splits on unquoted blanks, honouring '…', "…" and backslash escapes.
    static func shellWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for char in text {
            if escaped { current.append(char); escaped = false; continue }
            if let open = quote {
                if char == open {
                    quote = nil
                } else if char == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(char)
                }
                continue
            }
            switch char {
            case "\\": escaped = true; inWord = true
            case "'", "\"": quote = char; inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            default: current.append(char); inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// `environment:` as a map (`KEY: value`, `KEY:` for pass-through) or a list
    /// (`KEY=value`, `KEY` for pass-through). A nil value means pass-through.
    static func environment(_ node: Node?) -> [(key: String, value: String?)] {
        if let items = strings(node) {
            return items.map { item in
                guard let equals = item.firstIndex(of: "=") else { return (item, nil) }
                return (String(item[..<equals]), String(item[item.index(after: equals)...]))
            }
        }
        return pairs(node).map { pair in
            if case let .scalar(scalar) = pair.value, scalar.string.isEmpty, scalar.tag.description.hasSuffix("null") {
                return (pair.key, nil)
            }
            return (pair.key, string(pair.value) ?? "")
        }
    }

    /// One entry of `ports:`: the published host side (nil when only the
    /// container port is given) and the container port.
    struct PortMapping {
        var published: String?
        var target: Int?
    }

    static func ports(_ node: Node?) -> [PortMapping] {
        guard case let .sequence(items)? = node else { return [] }
        return items.compactMap { item in
            if case .mapping = item {
                let target = string(value(item, "target")).flatMap { Int(firstOfRange($0)) }
                return PortMapping(published: string(value(item, "published")).map(firstOfRange), target: target)
            }
            guard let text = string(item) else { return nil }
            return shortPort(text)
        }
    }

    /// `[HOST_IP:][HOST:]CONTAINER[/PROTOCOL]`, where either side may be a range and
    /// the host IP may be `[::1]`.
    static func shortPort(_ text: String) -> PortMapping {
        var body = text
        if let slash = body.lastIndex(of: "/") { body = String(body[..<slash]) }
        if body.hasPrefix("["), let close = body.firstIndex(of: "]") {
            body = String(body[body.index(after: close)...]).trimmingCharacters(in: CharacterSet(charactersIn: ":"))
        }
        var parts = splitOutsideBraces(body)
        let target = parts.popLast().flatMap { Int(firstOfRange($0)) }
        guard let host = parts.last, !host.isEmpty, !host.contains(".") || host.contains("${") else {
            return PortMapping(published: nil, target: target)
        }
        return PortMapping(published: firstOfRange(host), target: target)
    }

    /// Splits on `:` but not inside `${...}` (a port may be `${API_PORT:-8000}`).
    static func splitOutsideBraces(_ text: String) -> [String] {
        var parts: [String] = [], current = "", depth = 0
        for char in text {
            if char == "{" { depth += 1 } else if char == "}" { depth = max(0, depth - 1) }
            if char == ":" && depth == 0 { parts.append(current); current = "" } else { current.append(char) }
        }
        parts.append(current)
        return parts
    }

    static func firstOfRange(_ text: String) -> String {
        guard !text.contains("${"), let dash = text.firstIndex(of: "-") else { return text }
        return String(text[..<dash])
    }

    /// `depends_on:` as a list (compose: `service_started`) or a map with conditions.
    static func dependencies(_ node: Node?) -> [(service: String, condition: String)] {
        if let names = strings(node) { return names.map { ($0, "service_started") } }
        return pairs(node).map { ($0.key, string(value($0.value, "condition")) ?? "service_started") }
    }

    /// A compose or Go duration muster also reads (`1m30s`, `500ms`), else nil.
    static func duration(_ node: Node?) -> (text: String, value: Duration)? {
        guard let text = string(node)?.trimmingCharacters(in: .whitespaces), !text.isEmpty,
            case let .success(value) = DurationParser.parse(text)
        else { return nil }
        return (text, value)
    }
}
