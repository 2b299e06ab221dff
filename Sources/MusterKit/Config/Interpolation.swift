/// Compose-style interpolation of stack file scalars from the environment:
/// `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
/// `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}` and `$$` for a literal `$`.
/// `${service.output}` (a name with a dot) is kept as a reference for later.
public struct Interpolator: Sendable {
    /// The process environment, then the `env_file`, as compose does.
    public var variables: [String: String]

    public init(variables: [String: String]) {
        self.variables = variables
    }

    /// Names that were used while unset (interpolated as empty), for warnings.
    public final class Report {
        public var unset: [String] = []
        public init() {}
    }

    /// Defaults hold defaults (`${A:-${B:-x}}`); deeper than this is refused, as each
    /// level recurses and rescans the rest of the text (20 000 levels never returned).
    static let maxNesting = 8

    public func interpolate(_ text: String, report: Report? = nil) -> Result<Template, ParseProblem> {
        interpolate(text, report: report, depth: 0)
    }

    private func interpolate(_ text: String, report: Report?, depth: Int) -> Result<Template, ParseProblem> {
        guard depth <= Self.maxNesting else {
            return .failure(
                ParseProblem("\"${\" nested deeper than \(Self.maxNesting) levels; a default never needs that"))
        }
        var parts: [Template.Part] = []
        var literal = ""
        var index = text.startIndex
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
        }
        while index < text.endIndex {
            let char = text[index]
            guard char == "$" else {
                literal.append(char)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else {
                literal.append("$")
                index = next
                continue
            }
            if text[next] == "$" {
                literal.append("$")
                index = text.index(after: next)
            } else if text[next] == "{" {
                guard let close = matchingBrace(in: text, from: next) else {
                    return .failure(
                        ParseProblem(
                            "unterminated \"${\" in \"\(text)\"; close it with \"}\" or write $$ for a literal $"))
                }
                let body = String(text[text.index(after: next)..<close])
                switch expand(body, report: report, depth: depth) {
                case let .failure(problem): return .failure(problem)
                case let .success(.reference(service, output)):
                    flush()
                    parts.append(.reference(service: service, output: output))
                case let .success(.text(value)):
                    literal += value
                }
                index = text.index(after: close)
            } else if text[next] == "_" || text[next].isLetter {
                var end = next
                while end < text.endIndex, text[end] == "_" || text[end].isLetter || text[end].isNumber {
                    end = text.index(after: end)
                }
                let name = String(text[next..<end])
                if let value = variables[name] {
                    literal += value
                } else {
                    report?.unset.append(name)
                }
                index = end
            } else {
                literal.append("$")
                index = next
            }
        }
        flush()
        return .success(Template(parts: parts))
    }

    private enum Expansion {
        case text(String)
        case reference(String, String)
    }

    private func matchingBrace(in text: String, from open: String.Index) -> String.Index? {
        var depth = 0
        var index = open
        while index < text.endIndex {
            if text[index] == "{" { depth += 1 }
            if text[index] == "}" {
                depth -= 1
                if depth == 0 { return index }
            }
            index = text.index(after: index)
        }
        return nil
    }

    private func expand(_ body: String, report: Report?, depth: Int) -> Result<Expansion, ParseProblem> {
        let nameEnd =
            body.firstIndex { !($0 == "_" || $0 == "." || $0 == "-" || $0.isLetter || $0.isNumber) } ?? body.endIndex
        var name = String(body[..<nameEnd])
        var rest = String(body[nameEnd...])
        // A dash inside a plain name is the start of `-default`.
        if !name.contains("."), let dash = name.firstIndex(of: "-") {
            rest = String(name[dash...]) + rest
            name = String(name[..<dash])
        }
        if name.isEmpty {
            return .failure(ParseProblem("empty variable name in \"${\(body)}\""))
        }
        if name.contains(".") {
            let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty, rest.isEmpty else {
                return .failure(ParseProblem("bad reference \"${\(body)}\"; write ${service.output}, e.g. ${db.url}"))
            }
            return .success(.reference(String(pieces[0]), String(pieces[1])))
        }
        guard name.first == "_" || name.first!.isLetter else {
            return .failure(ParseProblem("bad variable name \"\(name)\" in \"${\(body)}\""))
        }
        let value = variables[name]
        if rest.isEmpty {
            if value == nil { report?.unset.append(name) }
            return .success(.text(value ?? ""))
        }
        let operators = [":-", ":?", ":+", "-", "?", "+"]
        guard let op = operators.first(where: { rest.hasPrefix($0) }) else {
            return .failure(
                ParseProblem("bad interpolation \"${\(body)}\"; use ${VAR}, ${VAR:-default} or ${VAR:?message}"))
        }
        let argumentText = String(rest.dropFirst(op.count))
        let argument: String
        switch interpolate(argumentText, report: report, depth: depth + 1) {
        case let .failure(problem): return .failure(problem)
        case let .success(template):
            guard template.references.isEmpty else {
                return .failure(ParseProblem("a default cannot hold a service reference in \"${\(body)}\""))
            }
            argument = template.resolve { _, _ in nil }
        }
        let emptyCounts = op.hasPrefix(":")
        let isSet = value != nil && !(emptyCounts && value!.isEmpty)
        switch op.last! {
        case "-": return .success(.text(isSet ? value! : argument))
        case "+": return .success(.text(isSet ? argument : ""))
        default:
            if isSet { return .success(.text(value!)) }
            let why = argument.isEmpty ? "is required" : argument
            return .failure(ParseProblem("variable \(name) \(argument.isEmpty ? why : "is not set: " + why)"))
        }
    }
}
