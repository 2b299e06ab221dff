import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Deletes a folder tree (links are removed, never followed) and says what stayed.
///
/// `FileManager.removeItem` under `try?` hid a failed delete: `down --volumes` printed
/// "deleted data" over a cluster that was still there. This walk names the first entry
/// that stayed and the system's reason, so the caller can say it.
public enum TreeRemoval {
    /// Removes `path` and all below it. Nil when it is gone (or never was); otherwise
    /// "PATH: REASON" for the first entry that could not be removed. A file created in a
    /// folder while the walk passed it leaves that folder not empty: the walk then runs
    /// again, up to three times.
    public static func remove(_ path: String) -> String? {
        var failure: String?
        for _ in 0..<3 {
            failure = removeEntry(path)
            if failure == nil { return nil }
        }
        return failure
    }

    private static func removeEntry(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return errno == ENOENT ? nil : describe(path, errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            return unlink(path) == 0 || errno == ENOENT ? nil : describe(path, errno)
        }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            return "\(path): cannot list it (\(error.localizedDescription))"
        }
        var first: String?
        for entry in entries {
            if let failure = removeEntry(path + "/" + entry), first == nil { first = failure }
        }
        if rmdir(path) == 0 || errno == ENOENT { return nil }
        let code = errno
        return first ?? describe(path, code)
    }

    private static func describe(_ path: String, _ code: Int32) -> String {
        "\(path): \(String(cString: strerror(code)))"
    }
}
