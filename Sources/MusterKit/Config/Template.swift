/// A string from the stack file that may still hold `${service.output}` references,
/// resolved only at start, once `port: auto` has picked its ports.
public struct Template: Hashable, Sendable, CustomStringConvertible {
    public enum Part: Hashable, Sendable {
        case literal(String)
        case reference(service: String, output: String)
    }

    public var parts: [Part]
    /// Where the scalar began, for errors about its references.
    public var location: SourceLocation?

    public init(parts: [Part], location: SourceLocation? = nil) {
        self.parts = parts
        self.location = location
    }

    public init(literal: String) {
        self.parts = [.literal(literal)]
        self.location = nil
    }

    public var references: [(service: String, output: String)] {
        parts.compactMap {
            if case let .reference(service, output) = $0 { return (service, output) }
            return nil
        }
    }

    /// The text with references written back as `${service.output}`.
    public var description: String {
        parts.map {
            switch $0 {
            case let .literal(text): return text
            case let .reference(service, output): return "${\(service).\(output)}"
            }
        }.joined()
    }

    /// Substitutes every reference; `lookup` returns nil for an unknown output.
    public func resolve(_ lookup: (String, String) -> String?) -> String {
        parts.map {
            switch $0 {
            case let .literal(text): return text
            case let .reference(service, output): return lookup(service, output) ?? ""
            }
        }.joined()
    }
}

/// A command as written: a string runs under `/bin/sh -c`, a list is exec'd as is.
public enum CommandSpec: Hashable, Sendable {
    case shell(Template)
    case exec([Template])

    public var display: String {
        switch self {
        case let .shell(template): return template.description
        case let .exec(list): return list.map { $0.description }.joined(separator: " ")
        }
    }

    public var templates: [Template] {
        switch self {
        case let .shell(template): return [template]
        case let .exec(list): return list
        }
    }

    /// The argv to run once references are resolved.
    public func argv(_ lookup: (String, String) -> String?) -> [String] {
        switch self {
        case let .shell(template): return ["/bin/sh", "-c", template.resolve(lookup)]
        case let .exec(list): return list.map { $0.resolve(lookup) }
        }
    }
}
