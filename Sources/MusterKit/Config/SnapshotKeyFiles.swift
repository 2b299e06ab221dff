import Foundation
import Yams

/// The files a snapshot's `key:` globs name: relative to the stack file's folder, `*`,
/// `?` and `[...]` within a path segment, `**` across segments; a glob without magic
/// names a file, or every file under a folder. Version control, dependency and
/// muster's own folders (`GlobMatcher.ignoredFolders`) are not walked into.
public enum SnapshotKeyFiles {
    /// At most this many entries are looked at per glob (a glob over a huge tree is a mistake).
    static let walkLimit = 100_000

    /// The files `pattern` matches under `base`, as sorted paths relative to `base`.
    public static func matches(_ pattern: String, base: String) -> [String] {
        let fm = FileManager.default
        let cleaned = pattern.hasPrefix("./") ? String(pattern.dropFirst(2)) : pattern
        if !GlobPattern.hasMagic(cleaned) {
            let path = cleaned.hasPrefix("/") ? cleaned : base + "/" + cleaned
            var isFolder: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isFolder) else { return [] }
            guard isFolder.boolValue else { return [relative(path, to: base)] }
            return walk(path).map { relative(path + "/" + $0, to: base) }.sorted()
        }
        let absolute = cleaned.hasPrefix("/") ? cleaned : base + "/" + cleaned
        // The folder above the first segment with magic: walked for candidates.
        var root: [Substring] = []
        for segment in absolute.split(separator: "/") {
            if GlobPattern.hasMagic(String(segment)) { break }
            root.append(segment)
        }
        let folder = "/" + root.joined(separator: "/")
        let rest = absolute.split(separator: "/").dropFirst(root.count).joined(separator: "/")
        return walk(folder).filter { GlobPattern.matches(rest, $0) }.map { relative(folder + "/" + $0, to: base) }
            .sorted()
    }

    /// Every file below `folder`, relative to it, skipping the folders never watched.
    private static func walk(_ folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var files: [String] = []
        var looked = 0
        while let entry = walker.nextObject() as? String, looked < walkLimit {
            looked += 1
            if GlobMatcher.ignoredFolders.contains((entry as NSString).lastPathComponent) {
                walker.skipDescendants()
                continue
            }
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { files.append(entry) }
        }
        return files
    }

    /// `path` relative to `base` when under it; else as it is.
    static func relative(_ path: String, to base: String) -> String {
        GlobMatcher.relativePath(path, to: base) ?? path
    }

    /// One warning per `key:` glob that matches no file: a typo would leave the file it
    /// meant out of the key, and a change to it would not run the task again.
    public static func warnings(for services: [ServiceSpec]) -> [String] {
        services.flatMap { service -> [String] in
            guard let snapshot = service.engine?.snapshot else { return [] }
            return snapshot.key.filter { matches($0.pattern, base: snapshot.keyBase).isEmpty }.map { glob in
                let place = glob.location.map { "\($0): " } ?? ""
                return
                    "\(place)service \(service.name): snapshot.key \(glob.pattern) matches no file; the key is made without it (fix the glob, or remove it)"
            }
        }
    }
}

extension ServiceParser {
    /// `key: [GLOBS]`: each a non-empty path relative to the stack file.
    func keyGlobs(_ node: Node, what: String) throws -> [KeyGlob] {
        try reader.stringList(node, what: what).map { pattern, item in
            guard !pattern.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw reader.fail(
                    "\(what) has an empty glob; give paths relative to the stack file, as in key: [migrations/**]", item
                )
            }
            return KeyGlob(pattern: pattern, location: reader.location(item))
        }
    }
}
