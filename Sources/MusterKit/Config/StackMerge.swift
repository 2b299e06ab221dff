import Foundation
import Yams

/// Which file each line of a merged stack came from, so errors in an override
/// file still read `override.yaml:LINE:COLUMN`.
struct SourceMap: Sendable {
    struct Part: Sendable {
        var file: String
        var firstLine: Int
        var lineCount: Int
    }

    var parts: [Part] = []

    func place(ofLine line: Int) -> (file: String, line: Int)? {
        guard let part = parts.last(where: { line >= $0.firstLine }) else { return nil }
        return (part.file, line - part.firstLine + 1)
    }
}

extension StackLoader {
    /// Several stack files merged in order, later wins, as `docker compose -f a -f b`
    /// does: mappings merge key by key (so one service's `env` or `ready` can be
    /// overridden alone); lists and scalars are replaced. The first file's folder is
    /// the project folder.
    public static func load(paths: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> StackSpec
    {
        guard paths.count > 1 else { return try load(path: paths.first ?? defaultPath(), environment: environment) }
        let (merged, sources, directory) = try composeMerged(paths)
        do {
            var stack = try parseRoot(
                merged, file: paths[0], directory: directory,
                environment: environment, sources: sources)
            stack.files = paths
            return stack
        } catch var error as MusterError {
            error.message = oneLine(error.message)
            throw error
        }
    }

    /// The YAML trees of the files merged in order, where each line of them came from,
    /// and the project folder (the first file's).
    static func composeMerged(_ paths: [String]) throws -> (root: Node, sources: SourceMap, directory: String) {
        var merged: Node?
        var sources = SourceMap()
        var offset = 0
        var first = ""
        for path in paths {
            let (absolute, text) = try readText(path)
            if first.isEmpty { first = absolute }
            do {
                // Alone first: syntax errors then carry this file's own lines.
                let alone = try compose(text, file: path)
                // Then shifted below the files before it, so every line number is unique.
                let lines = text.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }
                if let node = offset == 0
                    ? alone : try compose(String(repeating: "\n", count: offset) + text, file: path)
                {
                    merged = merged.map { merge($0, node) } ?? node
                }
                sources.parts.append(.init(file: path, firstLine: offset + 1, lineCount: lines))
                offset += lines
            } catch var error as MusterError {
                error.message = oneLine(error.message)
                throw error
            }
        }
        guard let merged else {
            throw MusterError.invalid(
                paths.count > 1
                    ? "the stack files are empty; they need at least a services: block"
                    : "stack file is empty; it needs at least a services: block",
                at: SourceLocation(file: paths[0], line: 1, column: 1))
        }
        return (merged, sources, (first as NSString).deletingLastPathComponent)
    }

    /// `override` laid over `base`.
    static func merge(_ base: Node, _ override: Node) -> Node {
        guard case let .mapping(baseMapping) = base, case let .mapping(overMapping) = override else { return override }
        var pairs = Array(baseMapping.map { ($0.key, $0.value) })
        for (key, value) in overMapping {
            if let index = pairs.firstIndex(where: { $0.0.string == key.string && key.string != nil }) {
                pairs[index].1 = merge(pairs[index].1, value)
            } else {
                pairs.append((key, value))
            }
        }
        return .mapping(Node.Mapping(pairs, baseMapping.tag, baseMapping.style, baseMapping.mark))
    }
}
