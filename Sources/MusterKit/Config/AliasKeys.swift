import Foundation
import Yams

extension StackLoader {
    /// Stands in for `*` while aliases are made inert: one character, so lines and
    /// columns stay the same, and a private-use one no stack file writes.
    static let inertAlias: Unicode.Scalar = "\u{E000}"

    /// Yams hashes every mapping key to find duplicates, and a key that holds aliases is
    /// hashed fully expanded: a few nested anchors make that 10^9 nodes ("billion laughs")
    /// and the load never ends. So a file with aliases is first composed with each `*`
    /// made plain text (cheap: nothing expands), and a key holding an alias is refused
    /// before the real compose. Keys must be plain names anyway.
    static func checkAliasKeys(_ yaml: String, file: String) throws {
        guard yaml.contains("*") else { return }
        let inert = String(String.UnicodeScalarView(yaml.unicodeScalars.map { $0 == "*" ? inertAlias : $0 }))
        let root: Node?
        do {
            root = try Yams.compose(yaml: inert, .basic)
        } catch let error as YamlError {
            // Same positions as the real file; the real compose could stall before its own error.
            var refusal = yamlError(error, file: file, yaml: yaml)
            refusal.message = refusal.message.replacingOccurrences(of: String(Character(inertAlias)), with: "*")
            throw refusal
        }
        guard let root else { return }
        if let alias = aliasInKey(root) {
            let name = "*" + String(String.UnicodeScalarView(alias.string.unicodeScalars.dropFirst()))
            throw MusterError.invalid(
                "alias \(name) is used as a key; keys must be plain names",
                at: alias.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) })
        }
    }

    /// The first alias (made inert) inside any mapping key of the tree.
    private static func aliasInKey(_ node: Node) -> Node.Scalar? {
        switch node {
        case let .mapping(mapping):
            for (key, value) in mapping {
                if let alias = firstAlias(key) ?? aliasInKey(value) { return alias }
            }
        case let .sequence(sequence):
            for item in sequence {
                if let alias = aliasInKey(item) { return alias }
            }
        default: break
        }
        return nil
    }

    private static func firstAlias(_ node: Node) -> Node.Scalar? {
        switch node {
        case let .scalar(scalar):
            return scalar.style == .plain && scalar.string.unicodeScalars.first == inertAlias ? scalar : nil
        case let .mapping(mapping):
            for (key, value) in mapping {
                if let alias = firstAlias(key) ?? firstAlias(value) { return alias }
            }
        case let .sequence(sequence):
            for item in sequence {
                if let alias = firstAlias(item) { return alias }
            }
        case .alias: break
        }
        return nil
    }
}
