import Foundation
import Yams

/// Finds `${VAR}` and `$VAR` that have no default and no value (neither in the
/// environment nor in the `.env` beside the input), so `import` can name them and
/// where they are used, instead of the stack failing later on an empty value.
enum VariableCheck {
    struct Use: Equatable {
        var name: String
        var place: String
    }

    /// Every use of an unset variable without a default in the scalars under `node`.
    /// - Parameter place: where `node` is, e.g. `db: environment.POSTGRES_USER`.
    static func unset(in node: Node?, place: String, known: [String: String]) -> [Use] {
        switch node {
        case let .scalar(scalar)?:
            return names(in: scalar.string).filter { known[$0] == nil }.map { Use(name: $0, place: place) }
        case let .mapping(mapping)?:
            return mapping.flatMap { key, value in
                unset(
                    in: value, place: place + (place.hasSuffix(": ") ? "" : ".") + (ComposeValues.string(key) ?? "?"),
                    known: known)
            }
        case let .sequence(items)?:
            return items.flatMap { unset(in: $0, place: place, known: known) }
        default:
            return []
        }
    }

    /// Names used as `${NAME}`, `${NAME:?…}` or `$NAME`: those that need a value.
    /// `$$` is a literal `$`; `${a.b}` is a service reference; `${NAME:-x}` has a default.
    static func names(in text: String) -> [String] {
        var found: [String] = []
        let chars = Array(text)
        var index = 0
        func isName(_ char: Character) -> Bool { char == "_" || (char.isASCII && (char.isLetter || char.isNumber)) }
        while index < chars.count {
            guard chars[index] == "$", index + 1 < chars.count else { index += 1; continue }
            let next = chars[index + 1]
            if next == "$" { index += 2; continue }
            if next == "{" {
                var end = index + 2
                while end < chars.count, isName(chars[end]) || chars[end] == "." { end += 1 }
                let name = String(chars[(index + 2)..<end])
                let rest = end < chars.count ? chars[end] : "}"
                if !name.isEmpty, !name.contains("."), name.first?.isNumber == false,
                    rest == "}" || rest == "?" || (rest == ":" && end + 1 < chars.count && chars[end + 1] == "?")
                {
                    found.append(name)
                }
                index = end
            } else if next == "_" || (next.isASCII && next.isLetter) {
                var end = index + 1
                while end < chars.count, isName(chars[end]) { end += 1 }
                found.append(String(chars[(index + 1)..<end]))
                index = end
            } else {
                index += 1
            }
        }
        return found
    }

    /// One warning line per variable, naming where it is used.
    static func warnings(_ uses: [Use]) -> [String] {
        var order: [String] = []
        var places: [String: [String]] = [:]
        for use in uses {
            if places[use.name] == nil { order.append(use.name) }
            if !(places[use.name] ?? []).contains(use.place) { places[use.name, default: []].append(use.place) }
        }
        return order.map { name in
            "variable \(name) is not set and has no default (used by \(places[name]!.joined(separator: ", "))); "
                + "export it or add it to .env before `muster up`"
        }
    }

    /// The `.env` beside the input (compose and process-compose both read it), or nothing.
    static func dotEnv(in directory: String) -> [String: String] {
        guard case let .success(pairs) = EnvFile.load(directory + "/.env", display: ".env") else { return [:] }
        return Dictionary(pairs.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
    }
}
