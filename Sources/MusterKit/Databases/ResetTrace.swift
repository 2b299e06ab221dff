import Foundation

/// TEMPORARY: per-phase timing of restores, written to $MUSTER_RESET_TRACE when set.
final class ResetTrace: @unchecked Sendable {
    static let path = ProcessInfo.processInfo.environment["MUSTER_RESET_TRACE"]
    private let lock = NSLock()
    private var last = DispatchTime.now().uptimeNanoseconds
    private var parts: [String] = []
    let start: UInt64

    init(start: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.start = start
        last = start
    }

    func mark(_ name: String) {
        guard Self.path != nil else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock {
            parts.append("\(name)=\(String(format: "%.2f", Double(now - last) / 1e6))")
            last = now
        }
    }

    func flush(_ label: String) {
        guard let path = Self.path else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let line = lock.withLock {
            "\(label) total=\(String(format: "%.2f", Double(now - start) / 1e6)) " + parts.joined(separator: " ") + "\n"
        }
        Self.write(line, to: path)
    }

    private static let fileLock = NSLock()
    static func write(_ line: String, to path: String) {
        fileLock.withLock {
            if let handle = FileHandle(forWritingAtPath: path) {
                handle.seekToEndOfFile()
                handle.write(Data(line.utf8))
                handle.closeFile()
            } else {
                _ = FileManager.default.createFile(atPath: path, contents: Data(line.utf8))
            }
        }
    }
}
