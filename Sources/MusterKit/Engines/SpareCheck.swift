import Foundation

/// The check a spare cluster passes when a cold start takes it: cheap, because it runs
/// between the Postgres runner's spawn and the postmaster's.
///
/// A spare is checked in full against the template's manifest (every file, its size,
/// and `pg_control`) before the rename that publishes it, so a published spare was whole.
/// What can happen to it afterwards, while it waits in the cache, is that files go (a
/// cache cleaner deleting old files, an interrupted `rm -r`, a user tidying up) or that
/// its control file changes; nothing of muster writes into it. So taking it checks:
/// - the names of all its files and folders, read with `readdir` alone (about 30
///   folders; no `stat` of each of its thousand files), against the manifest's, as a
///   count and two order-free sums of their hashes: a file removed, added or renamed
///   anywhere is caught;
/// - the checksum of `global/pg_control` against the manifest's.
/// A file whose size changed in place is not caught here (the full check at publication
/// is); the template itself still gets the full check before every copy made from it.
enum SpareCheck {
    /// Whether `folder` holds the names the template's manifest lists, and its `pg_control`.
    static func passes(_ folder: String, manifestOf template: String) -> Bool {
        guard let manifest = FileManager.default.contents(atPath: TemplateManifest.path(for: template)),
            let expected = expected(from: manifest),
            let control = FileManager.default.contents(atPath: folder + "/global/pg_control"),
            TemplateManifest.fnv1a(control) == expected.control
        else { return false }
        var names = Names()
        guard walk(folder, under: [], into: &names) else { return false }
        return names == expected.names
    }

    /// Paths as the manifest lists them ("d PATH" for a folder, "f PATH" for anything
    /// else), summed so that the order they are read in does not matter.
    struct Names: Equatable {
        var count = 0
        var sum: UInt64 = 0
        var mixed: UInt64 = 0

        mutating func add<Bytes: Sequence>(_ line: Bytes) where Bytes.Element == UInt8 {
            var value: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in line {
                value ^= UInt64(byte)
                value = value &* 0x100_0000_01b3
            }
            count += 1
            sum &+= value
            mixed ^= (value &* 0x9e37_79b9_7f4a_7c15) >> 7 | value << 57
        }
    }

    /// The names and the `pg_control` checksum of a manifest ("f PATH SIZE" counts as "f PATH").
    static func expected(from manifest: Data) -> (names: Names, control: String)? {
        var names = Names()
        var control: String?
        let space = UInt8(ascii: " ")
        for line in manifest.split(separator: UInt8(ascii: "\n")) {
            if line.starts(with: Array("pg_control ".utf8)) {
                control = String(decoding: line.dropFirst(11), as: UTF8.self)
            } else if line.first == UInt8(ascii: "d") {
                names.add(line)
            } else if line.first == UInt8(ascii: "f"), let last = line.lastIndex(of: space) {
                names.add(line[line.startIndex..<last])
            } else {
                return nil
            }
        }
        return control.map { (names, $0) }
    }

    /// Every entry under `root`, depth first, by `readdir` (its type too; `fstatat` only
    /// where the file system does not say).
    private static func walk(_ root: String, under relative: [UInt8], into names: inout Names) -> Bool {
        let path = relative.isEmpty ? root : root + "/" + String(decoding: relative, as: UTF8.self)
        guard let directory = opendir(path) else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name == [46] || name == [46, 46] { continue }  // "." and ".."
            var isFolder = Int(entry.pointee.d_type) == Int(DT_DIR)
            if Int(entry.pointee.d_type) == Int(DT_UNKNOWN) {
                var info = stat()
                guard fstatat(dirfd(directory), String(decoding: name, as: UTF8.self), &info, AT_SYMLINK_NOFOLLOW) == 0
                else { return false }
                isFolder = info.st_mode & S_IFMT == S_IFDIR
            }
            let full = relative.isEmpty ? name : relative + [47] + name  // "/"
            names.add((isFolder ? Array("d ".utf8) : Array("f ".utf8)) + full)
            if isFolder, !walk(root, under: full, into: &names) { return false }
        }
        return true
    }
}
