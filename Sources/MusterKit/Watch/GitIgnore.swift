import Foundation

/// The patterns of `.gitignore` files, each anchored at the folder it was found in.
/// Enough of git's rules for a watcher: comments, `!` re-includes, a leading or inner
/// `/` anchors to the file's folder, a trailing `/` means folders only, `**` spans folders.
struct GitIgnore: Sendable {
    struct Pattern: Sendable {
        var base: String
        var glob: String
        var anchored: Bool
        var foldersOnly: Bool
        var negated: Bool
    }

    private(set) var patterns: [Pattern] = []
    private(set) var loaded = Set<String>()

    /// Reads `folder/.gitignore` once, when it exists.
    mutating func load(folder: String) {
        guard loaded.insert(folder).inserted,
            let text = try? String(contentsOfFile: folder + "/.gitignore", encoding: .utf8)
        else { return }
        for raw in text.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let negated = line.hasPrefix("!")
            if negated { line.removeFirst() }
            let foldersOnly = line.hasSuffix("/")
            if foldersOnly { line.removeLast() }
            let anchored = line.contains("/")
            if line.hasPrefix("/") { line.removeFirst() }
            guard !line.isEmpty else { continue }
            patterns.append(
                Pattern(base: folder, glob: line, anchored: anchored, foldersOnly: foldersOnly, negated: negated))
        }
    }

    /// Whether `path` (absolute) is ignored; the last pattern that matches decides.
    func ignores(_ path: String, isFolder: Bool) -> Bool {
        var ignored = false
        for pattern in patterns {
            guard let relative = GlobMatcher.relativePath(path, to: pattern.base), !relative.isEmpty else { continue }
            if matches(pattern, relative: relative, isFolder: isFolder) { ignored = !pattern.negated }
        }
        return ignored
    }

    private func matches(_ pattern: Pattern, relative: String, isFolder: Bool) -> Bool {
        let parts = relative.split(separator: "/").map(String.init)
        // A pattern that matches a folder ignores everything below it too.
        for depth in 1...parts.count {
            let isLast = depth == parts.count
            if pattern.foldersOnly && isLast && !isFolder { continue }
            if pattern.anchored {
                if GlobPattern.matches(pattern.glob, parts.prefix(depth).joined(separator: "/")) { return true }
            } else if GlobPattern.segment(pattern.glob, parts[depth - 1]) {
                return true
            }
        }
        return false
    }
}
