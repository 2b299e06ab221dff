import CMusterShims
import Foundation

/// inotify: one descriptor for a whole stack's watched folders, read on the reactor
/// thread (no thread of its own, no wake-up while nothing changes).
///
/// Unchecked: the folder tables are guarded by its lock.
final class FileWatcher: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var folders: [Int32: String] = [:]
    private var descriptors: [String: Int32] = [:]
    private var token: UInt64 = 0
    private var closed = false
    /// A limit below the kernel's, so tests can reach it without changing the system.
    private let simulatedLimit: Int?
    private let deliver: @Sendable ([FileNotice]) -> Void

    /// nil when inotify is not available (no descriptor left, or a kernel without it).
    init?(simulatedLimit: Int? = nil, deliver: @escaping @Sendable ([FileNotice]) -> Void) {
        let fd = muster_inotify_open()
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.simulatedLimit = simulatedLimit
        self.deliver = deliver
        token = FDReactor.shared.add(fd) { [weak self] in self?.drain() ?? false }
    }

    /// The kernel's limit of inotify watches per user (`fs.inotify.max_user_watches`).
    static var kernelLimit: Int {
        let text = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_user_watches", encoding: .utf8)) ?? ""
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 8192
    }

    func watch(folder: String) -> FolderWatchResult {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { return .unavailable }
        if descriptors[folder] != nil { return .watching }
        if let simulatedLimit, descriptors.count >= simulatedLimit { return .limitReached(simulatedLimit) }
        let wd = muster_inotify_watch_folder(fd, folder)
        if wd == -ENOSPC { return .limitReached(Self.kernelLimit) }
        guard wd >= 0 else { return .unavailable }
        // The same folder under another name (a hard link cannot make one, a bind mount can).
        if let previous = folders[wd] { descriptors[previous] = nil }
        folders[wd] = folder
        descriptors[folder] = wd
        return .watching
    }

    func unwatch(folder: String) {
        lock.lock()
        defer { lock.unlock() }
        guard let wd = descriptors.removeValue(forKey: folder) else { return }
        folders[wd] = nil
        _ = muster_inotify_unwatch(fd, wd)
    }

    func close() {
        lock.lock()
        guard !closed else { lock.unlock(); return }
        closed = true
        folders = [:]
        descriptors = [:]
        lock.unlock()
        FDReactor.shared.remove(token)
        _ = Glibc.close(fd)
    }

    /// Reads every pending event. Always true: only `close` ends the registration, so
    /// the reactor never closes the descriptor a second time.
    private func drain() -> Bool {
        let isFolder = muster_inotify_flag_is_folder()
        let selfGone = muster_inotify_flag_self_gone()
        let overflow = muster_inotify_flag_overflow()
        var notices: [FileNotice] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            lock.lock()
            let isClosed = closed
            lock.unlock()
            if isClosed { return true }
            let count = buffer.withUnsafeMutableBytes { muster_inotify_read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            lock.lock()
            buffer.withUnsafeBytes { raw in
                var offset = 0
                // struct inotify_event: int wd; uint32_t mask, cookie, len; char name[len].
                while offset + 16 <= count {
                    let wd = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = raw[(offset + 16)..<min(offset + 16 + length, count)].prefix { $0 != 0 }
                    offset += 16 + length
                    if mask & overflow != 0 { notices.append(.overflow); continue }
                    guard let folder = folders[wd] else { continue }
                    if mask & selfGone != 0 {
                        if nameBytes.isEmpty {
                            folders[wd] = nil
                            if descriptors[folder] == wd { descriptors[folder] = nil }
                            notices.append(.folderGone(folder))
                        }
                        continue
                    }
                    guard !nameBytes.isEmpty else { continue }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    notices.append(.entry(path: folder + "/" + name, isFolder: mask & isFolder != 0))
                }
            }
            lock.unlock()
        }
        lock.lock()
        let isClosed = closed
        lock.unlock()
        if !notices.isEmpty && !isClosed { deliver(notices) }
        return true
    }
}
