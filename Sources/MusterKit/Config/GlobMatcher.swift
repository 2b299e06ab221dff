import Foundation

/// Shell-style patterns over `/`-separated relative paths: `*`, `?` and `[...]` within
/// one path segment (through fnmatch), and `**` for any number of segments.
public enum GlobPattern {
    public static func hasMagic(_ text: String) -> Bool {
        text.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    /// Whether `path` (relative, no leading `/`) matches `pattern` (relative) as a whole.
    public static func matches(_ pattern: String, _ path: String) -> Bool {
        let patternParts = pattern.split(separator: "/").map(String.init).filter { $0 != "." }
        let pathParts = path.split(separator: "/").map(String.init)
        return match(patternParts[...], pathParts[...])
    }

    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            let rest = pattern.dropFirst()
            var tail = path
            while true {
                if match(rest, tail) { return true }
                guard !tail.isEmpty else { return false }
                tail = tail.dropFirst()
            }
        }
        guard let name = path.first, segment(head, name) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// One segment: fnmatch without flags, so `*` matches a leading dot too.
    public static func segment(_ pattern: String, _ name: String) -> Bool {
        if !hasMagic(pattern) { return pattern == name }
        return fnmatch(pattern, name, 0) == 0
    }
}

/// Which files a rule covers, what to watch for it, and the names never watched.
public enum GlobMatcher {
    /// Folders never watched, whatever the rules say: version control, dependencies,
    /// caches, build output, and muster's own runtime folder (its logs change all the time).
    public static let ignoredFolders: Set<String> = [
        ".git", "node_modules", "__pycache__", ".venv", "target", ".muster",
    ]

    /// Files editors write next to the one being saved and then remove or rename.
    public static func isEditorScratch(_ name: String) -> Bool {
        name.hasSuffix("~") || name.hasSuffix(".swp") || name.hasSuffix(".swx") || name.hasSuffix(".swpx")
            || name.hasPrefix(".#") || name == "4913" || name.hasSuffix("___jb_tmp___")
            || name.hasSuffix("___jb_old___")
    }

    /// The folder to watch for a rule, and whether its subfolders count.
    public static func root(of rule: WatchRule) -> (folder: String, recursive: Bool) {
        if rule.isGlob { return (existingAncestor(globBase(rule.absolutePath)), true) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: rule.absolutePath, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return (rule.absolutePath, true) }
            return ((rule.absolutePath as NSString).deletingLastPathComponent, false)
        }
        let parent = (rule.absolutePath as NSString).deletingLastPathComponent
        let existing = existingAncestor(parent)
        return (existing, existing != parent)
    }

    /// The folders of a glob before its first pattern character, without looking at the disk.
    static func globBase(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if GlobPattern.hasMagic(String(part)) { break }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func existingAncestor(_ path: String) -> String {
        var current = path.isEmpty ? "/" : path
        while current != "/" && !FileManager.default.fileExists(atPath: current) {
            current = (current as NSString).deletingLastPathComponent
        }
        return current
    }

    /// The source files `up --watch` watches in every service's working_dir: Python,
    /// Go, JavaScript and TypeScript, Ruby, Java and Kotlin, Rust.
    public static let sourceExtensions = [
        "py", "go", "js", "mjs", "cjs", "jsx", "ts", "tsx", "rb", "java", "kt", "kts", "rs",
    ]

    /// `up --watch`: rules for a service's source files under its working_dir.
    public static func sourceRules(workingDir: String, isTask: Bool) -> [WatchRule] {
        sourceExtensions.map { ext in
            let path = workingDir + "/**/*." + ext
            return WatchRule(path: path, absolutePath: path, action: isTask ? .rerun : .restart)
        }
    }

    /// Whether a changed file (absolute path) is one the rule covers and does not ignore.
    public static func covers(_ rule: WatchRule, file: String, projectDirectory: String) -> Bool {
        let base: String
        if rule.isGlob {
            // Relative to the project folder, or from the root for a rule outside it (`up --watch`).
            var relative = relativePath(file, to: projectDirectory)
            var pattern = relativePath(rule.absolutePath, to: projectDirectory)
            if relative == nil || pattern == nil {
                relative = String(file.dropFirst())
                pattern = String(rule.absolutePath.dropFirst())
            }
            guard let relative, let pattern, GlobPattern.matches(pattern, relative) else { return false }
            base = globBase(rule.absolutePath)
        } else if file == rule.absolutePath {
            return true
        } else if file.hasPrefix(rule.absolutePath + "/") {
            base = rule.absolutePath
        } else {
            return false
        }
        guard let inside = relativePath(file, to: base) else { return true }
        return !rule.ignore.contains { ignored(inside, by: $0) }
    }

    /// An ignore pattern with a `/` matches the path below the rule's folder; one
    /// without matches any single name in it (`*.pyc`, `tests`), as .gitignore does.
    static func ignored(_ relative: String, by pattern: String) -> Bool {
        var pattern = pattern
        if pattern.hasPrefix("/") { pattern.removeFirst() }
        if pattern.hasSuffix("/") { pattern.removeLast() }
        if pattern.contains("/") {
            let parts = relative.split(separator: "/")
            return (1...max(parts.count, 1)).contains {
                GlobPattern.matches(pattern, parts.prefix($0).joined(separator: "/"))
            }
        }
        return relative.split(separator: "/").contains { GlobPattern.segment(pattern, String($0)) }
    }

    public static func relativePath(_ path: String, to folder: String) -> String? {
        if path == folder { return "" }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        guard path.hasPrefix(prefix) else { return nil }
        return String(path.dropFirst(prefix.count))
    }

    /// True when no file matches the rule now (a typo, or a folder not made yet).
    public static func matchesNothing(_ rule: WatchRule, projectDirectory: String) -> Bool {
        guard rule.isGlob else { return !FileManager.default.fileExists(atPath: rule.absolutePath) }
        let folder = root(of: rule).folder
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return true }
        var looked = 0
        while let entry = walker.nextObject() as? String, looked < 100_000 {
            looked += 1
            let name = (entry as NSString).lastPathComponent
            if ignoredFolders.contains(name) { walker.skipDescendants(); continue }
            if covers(rule, file: folder + "/" + entry, projectDirectory: projectDirectory) { return false }
        }
        return looked < 100_000
    }
}
