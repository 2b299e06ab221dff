import Foundation

/// Where every report muster writes goes through: the run report, the HTML page, JUnit,
/// the Markdown summary and a merged report. One message for a file that cannot be
/// written, and one check before a command runs that it could be.
public enum ReportFile {
    /// Writes `data` to `path`, or throws one line naming what could not be written.
    public static func write(_ data: Data, to path: String, what: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: data) else {
            throw MusterError(.usage, "cannot write the \(what) to \(path); check the folder exists and is writable")
        }
    }

    /// Refuses, before anything runs, a file that could not be written: its folder is
    /// missing or not writable, or the file itself is not writable.
    public static func checkWritable(_ path: String, what: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        let folderOK =
            FileManager.default.fileExists(atPath: folder.isEmpty ? "." : folder, isDirectory: &isFolder)
            && isFolder.boolValue
            && FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder)
        let fileOK = !FileManager.default.fileExists(atPath: path) || FileManager.default.isWritableFile(atPath: path)
        guard folderOK, fileOK else {
            throw MusterError(.usage, "cannot write the \(what) to \(path); check the folder exists and is writable")
        }
    }
}
