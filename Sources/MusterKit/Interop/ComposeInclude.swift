import Foundation
import Yams

/// Compose's top-level `include:` (a project split into files): each entry is a
/// path, or `{path: one or a list, project_directory, env_file}`. Relative paths
/// are resolved from the including file's folder; each included file's `${VAR}`s
/// are filled from its own env_file (`.env` in its project folder by default).
/// As compose does, the files of one entry's `path:` list merge like override
/// files, while a service defined by two different includes (or by an include
/// and the including file) is an error naming both files.
enum ComposeInclude {
    /// Includes inside includes deeper than this are refused (a loop, in practice).
    static let maxDepth = 16

    /// The root with every included file's services merged in, `include:` removed.
    /// - Parameters:
    ///   - file: the including file's absolute path.
    ///   - shown: how to name it in messages.
    static func resolve(_ root: Node, file: String, shown: String) throws -> Node {
        var origins: [String: String] = [:]
        let services = try collect(root, file: file, shown: shown, depth: 0, stack: [file], origins: &origins)
        var pairs: [(Node, Node)] = []
        guard case let .mapping(mapping) = root else { return root }
        var placed = false
        for (key, value) in mapping {
            switch ComposeValues.string(key) {
            case "include": continue
            case "services":
                pairs.append((key, .mapping(Node.Mapping(services))))
                placed = true
            default: pairs.append((key, value))
            }
        }
        if !placed { pairs.append((Node("services"), .mapping(Node.Mapping(services)))) }
        return .mapping(Node.Mapping(pairs))
    }

    /// The services of `root` and of everything it includes, in file order.
    static func collect(
        _ root: Node, file: String, shown: String, depth: Int, stack: [String],
        origins: inout [String: String]
    ) throws -> [(Node, Node)] {
        let folder = (file as NSString).deletingLastPathComponent
        var services: [(Node, Node)] = []
        func add(_ pairs: [(Node, Node)], from source: (String) -> String) throws {
            for (key, value) in pairs {
                let source = source(ComposeValues.string(key) ?? "?")
                let name = ComposeValues.string(key) ?? "?"
                if let first = origins[name] {
                    throw MusterError(
                        .usage,
                        "service \(name) is defined in both \(first) and \(source); compose refuses that in an include:d project too: keep one"
                    )
                }
                origins[name] = source
                services.append((key, value))
            }
        }
        for entry in includeEntries(ComposeValues.value(root, "include")) {
            guard !entry.paths.isEmpty else {
                throw MusterError(.usage, "\(shown): an include: entry has no path; write `- path/to/compose.yaml`")
            }
            let first = StackLoader.resolve(entry.paths[0], in: folder)
            let project =
                entry.projectDirectory.map { StackLoader.resolve($0, in: folder) }
                ?? (first as NSString).deletingLastPathComponent
            var variables = ProcessInfo.processInfo.environment
            let envFiles = entry.envFiles.map { StackLoader.resolve($0, in: folder) }
            for envFile in envFiles.isEmpty ? [project + "/.env"] : envFiles {
                switch EnvFile.load(envFile, display: relative(envFile, to: folder)) {
                case let .success(pairs):
                    for (key, value) in pairs where variables[key] == nil { variables[key] = value }
                case let .failure(error):
                    if !envFiles.isEmpty { throw MusterError(.usage, "\(shown): include: env_file \(error.message)") }
                }
            }
            // The files of one entry merge as override files: later keys win.
            var merged: [(Node, Node)] = []
            var definedIn: [String: String] = [:]
            for path in entry.paths {
                let absolute = StackLoader.resolve(path, in: folder)
                let name = relative(absolute, to: folder)
                guard !stack.contains(absolute) else {
                    throw MusterError(
                        .usage,
                        "\(shown): include: \(path) includes itself (through \(stack.map { ($0 as NSString).lastPathComponent }.joined(separator: " → "))); remove the loop"
                    )
                }
                guard depth < maxDepth else {
                    throw MusterError(.usage, "\(shown): include: nested deeper than \(maxDepth) files; flatten it")
                }
                guard FileManager.default.fileExists(atPath: absolute) else {
                    throw MusterError(
                        .usage,
                        "\(shown): include: \(path) not found (looked in \((absolute as NSString).deletingLastPathComponent)); fix the path"
                    )
                }
                let text = try interpolate(StackImporter.readInput(absolute, shown: name), variables: variables)
                let included: Node
                do {
                    try StackLoader.checkNesting(text, file: name)
                    guard let node = try Yams.compose(yaml: text) else { continue }
                    included = node
                } catch let error as YamlError {
                    throw StackImporter.usage(StackLoader.yamlError(error, file: name, yaml: text))
                }
                var inner: [String: String] = [:]
                let own = try collect(
                    included, file: absolute, shown: name, depth: depth + 1, stack: stack + [absolute], origins: &inner)
                let rebased = own.map { key, value in (key, rebase(value, from: project, to: folder)) }
                merged = override(merged, with: rebased)
                for (key, _) in own {
                    definedIn[ComposeValues.string(key) ?? "?"] = inner[ComposeValues.string(key) ?? "?"] ?? name
                }
            }
            try add(merged) { definedIn[$0] ?? shown }
        }
        if case let .mapping(own)? = ComposeValues.value(root, "services") {
            try add(Array(own)) { _ in shown }
        }
        return services
    }

    struct Entry {
        var paths: [String]
        var projectDirectory: String?
        var envFiles: [String]
    }

    static func includeEntries(_ node: Node?) -> [Entry] {
        let items: [Node]
        switch node {
        case let .sequence(sequence)?: items = Array(sequence)
        case let .scalar(scalar)? where !scalar.string.isEmpty: items = [node!]
        default: items = []
        }
        return items.map { item in
            if let path = ComposeValues.string(item) {
                return Entry(paths: [path], projectDirectory: nil, envFiles: [])
            }
            let pathNode = ComposeValues.value(item, "path")
            let envNode = ComposeValues.value(item, "env_file")
            return Entry(
                paths: ComposeValues.string(pathNode).map { [$0] } ?? ComposeValues.strings(pathNode) ?? [],
                projectDirectory: ComposeValues.string(ComposeValues.value(item, "project_directory")),
                envFiles: ComposeValues.string(envNode).map { [$0] } ?? ComposeValues.strings(envNode) ?? [])
        }
    }

    /// Service by service, later mappings override earlier keys (compose's override merge, shallow).
    static func override(_ base: [(Node, Node)], with later: [(Node, Node)]) -> [(Node, Node)] {
        var result = base
        for (key, value) in later {
            guard let index = result.firstIndex(where: { ComposeValues.string($0.0) == ComposeValues.string(key) })
            else {
                result.append((key, value))
                continue
            }
            guard case let .mapping(old) = result[index].1, case let .mapping(new) = value else {
                result[index] = (key, value)
                continue
            }
            var pairs = Array(old)
            for (field, fieldValue) in new {
                if let at = pairs.firstIndex(where: { ComposeValues.string($0.0) == ComposeValues.string(field) }) {
                    pairs[at] = (field, fieldValue)
                } else {
                    pairs.append((field, fieldValue))
                }
            }
            result[index] = (key, .mapping(Node.Mapping(pairs)))
        }
        return result
    }

    /// A service's relative `env_file` and `build` paths, written from the included
    /// project's folder, rewritten from the importing file's folder.
    static func rebase(_ service: Node, from project: String, to folder: String) -> Node {
        guard project != folder, case let .mapping(mapping) = service else { return service }
        func moved(_ path: String) -> String {
            path.hasPrefix("/") ? path : relative(StackLoader.resolve(path, in: project), to: folder)
        }
        var pairs: [(Node, Node)] = []
        for (key, value) in mapping {
            switch (ComposeValues.string(key), value) {
            case ("env_file"?, .scalar), ("build"?, .scalar):
                pairs.append((key, Node(moved(ComposeValues.string(value) ?? ""))))
            case ("env_file"?, let .sequence(items)):
                pairs.append(
                    (
                        key,
                        .sequence(
                            Node.Sequence(
                                items.map { item in
                                    if let path = ComposeValues.string(item) { return Node(moved(path)) }
                                    return item
                                }))
                    ))
            default: pairs.append((key, value))
            }
        }
        return .mapping(Node.Mapping(pairs))
    }

    /// `path` relative to `folder` when it lies inside it, else absolute.
    static func relative(_ path: String, to folder: String) -> String {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// `${NAME}`, `${NAME:-x}`, `${NAME-x}` and `$NAME` replaced where NAME has a value
    /// in `variables`; everything else is left for muster to interpolate at load.
    static func interpolate(_ text: String, variables: [String: String]) -> String {
        guard text.contains("$") else { return text }
        let pattern =
            #"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))"#
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return text }
        let ns = text as NSString
        var result = ""
        var cursor = 0
        for match in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let nameRange = match.range(at: 1).location != NSNotFound ? match.range(at: 1) : match.range(at: 4)
            let name = ns.substring(with: nameRange)
            let op = match.range(at: 2).location != NSNotFound ? ns.substring(with: match.range(at: 2)) : ""
            result += ns.substring(with: NSRange(location: cursor, length: match.range.location - cursor))
            cursor = match.range.location + match.range.length
            guard let value = variables[name] else {
                result += ns.substring(with: match.range)
                continue
            }
            let set = !(op.hasPrefix(":") && value.isEmpty)
            if op.hasSuffix("+") {
                result += set ? ns.substring(with: match.range(at: 3)) : ""
            } else if set {
                result += value.replacingOccurrences(of: "$", with: "$$")
            } else {
                result += ns.substring(with: match.range)
            }
        }
        return result + ns.substring(from: cursor)
    }
}
