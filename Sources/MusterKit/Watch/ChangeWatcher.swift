import Foundation

/// Watches folder trees for changes to files' content and hands over each batch of
/// changed paths once the trees have been quiet for the debounce.
///
/// - Recursive: every subfolder gets its own kernel watch, also ones created later
///   (their files are looked at at once, so a file written before the watch existed
///   is not missed).
/// - Only content counts: each changed path is compared with what was recorded
///   (size, modification time, inode, and a hash for files up to 1 MiB), so a read,
///   a `chmod` or a `touch` gives nothing, and a file written and removed within the
///   debounce (an editor's scratch file) gives nothing either.
/// - Editors that save by renaming a new file over the old one are seen as a change
///   of the old name: the folder is watched, not the file.
/// - Past the kernel's limit of watches, the folders that do not fit are polled every
///   second, said once through `onMessage`.
///
/// Unchecked: every mutable field is touched only on `queue`.
public final class ChangeWatcher: @unchecked Sendable {
    public struct Root: Hashable, Sendable {
        public var folder: String
        public var recursive: Bool
        public init(folder: String, recursive: Bool) {
            self.folder = folder
            self.recursive = recursive
        }
    }

    private let roots: [Root]
    private let debounce: Duration
    private let interest: @Sendable (String) -> Bool
    private let onBatch: @Sendable ([String]) -> Void
    private let onMessage: @Sendable (String) -> Void
    private let simulatedLimit: Int?
    private let queue = DispatchQueue(label: "muster-watch")

    private var watcher: FileWatcher?
    /// Watched or polled folders, and whether their new subfolders are watched too.
    private var folders: [String: Bool] = [:]
    private var polled = Set<String>()
    private var known: [String: FileFingerprint] = [:]
    private var pending = Set<String>()
    private var firstPending: DispatchTime?
    private var flushItem: DispatchWorkItem?
    private var pollTimer: DispatchSourceTimer?
    private var hashedAtStart = 0
    private var limitSaid = false
    private var ignores = GitIgnore()
    private var stopped = false

    /// At most this many files are hashed when watching starts; later ones are compared by size and time.
    static let startHashBudget = 20_000

    public init(
        roots: [Root], debounce: Duration, simulatedLimit: Int? = nil,
        interest: @escaping @Sendable (String) -> Bool,
        onMessage: @escaping @Sendable (String) -> Void,
        onBatch: @escaping @Sendable ([String]) -> Void
    ) {
        self.roots = roots
        self.debounce = debounce
        self.simulatedLimit = simulatedLimit
        self.interest = interest
        self.onMessage = onMessage
        self.onBatch = onBatch
    }

    /// Puts the watches in place and records every file of interest; returns once watching.
    public func start(gitignoreFolders: [String] = []) {
        queue.sync {
            let queue = self.queue
            watcher = FileWatcher(simulatedLimit: simulatedLimit) { [weak self] notices in
                queue.async { [weak self] in self?.handle(notices) }
            }
            if watcher == nil { onMessage("inotify is not available; watched folders are polled every second") }
            for folder in gitignoreFolders { ignores.load(folder: folder) }
            for root in roots { add(folder: root.folder, recursive: root.recursive, initial: true) }
        }
    }

    /// Removes every watch; no batch follows.
    public func stop() {
        queue.sync {
            stopped = true
            flushItem?.cancel()
            pollTimer?.cancel()
            pollTimer = nil
            watcher?.close()
            watcher = nil
        }
    }

    /// How many folders have a kernel watch, and how many are polled.
    public var counts: (watched: Int, polled: Int) {
        queue.sync { (folders.count - polled.count, polled.count) }
    }

    // MARK: - On the queue

    private func add(folder: String, recursive: Bool, initial: Bool) {
        guard !stopped, folders[folder] == nil || polled.contains(folder) && !initial else { return }
        ignores.load(folder: folder)
        let result = watcher?.watch(folder: folder) ?? .limitReached(0)
        switch result {
        case .watching: polled.remove(folder)
        case let .limitReached(limit):
            if polled.insert(folder).inserted { startPolling(limit: limit, folder: folder) }
        case .unavailable: return
        }
        folders[folder] = recursive
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in entries {
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                if recursive && !skipsFolder(path, name: name) { add(folder: path, recursive: true, initial: initial) }
            } else if wants(path) {
                if initial {
                    let hashing = hashedAtStart < Self.startHashBudget
                    if hashing { hashedAtStart += 1 }
                    known[path] = FileFingerprint.read(path, hashing: hashing)
                } else {
                    // In a folder that just appeared: new, even if written before the watch was in place.
                    pending.insert(path)
                }
            }
        }
    }

    private func skipsFolder(_ path: String, name: String) -> Bool {
        GlobMatcher.ignoredFolders.contains(name) || ignores.ignores(path, isFolder: true)
    }

    private func wants(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        if GlobMatcher.isEditorScratch(name) || name == ".gitignore" { return false }
        return !ignores.ignores(path, isFolder: false) && interest(path)
    }

    private func handle(_ notices: [FileNotice]) {
        guard !stopped else { return }
        for notice in notices {
            switch notice {
            case let .entry(path, isFolder):
                let parent = (path as NSString).deletingLastPathComponent
                if isFolder {
                    if folders[path] != nil { forget(folder: path) }
                    let name = (path as NSString).lastPathComponent
                    if folders[parent] == true, FileManager.default.fileExists(atPath: path),
                        !skipsFolder(path, name: name)
                    {
                        add(folder: path, recursive: true, initial: false)
                    }
                } else if known[path] != nil || wants(path) {
                    pending.insert(path)
                }
            case let .folderGone(folder):
                forget(folder: folder)
            case .overflow:
                // Notices were lost: compare every recorded file, and look for new ones.
                pending.formUnion(known.keys)
                for root in roots { add(folder: root.folder, recursive: root.recursive, initial: false) }
            }
        }
        schedule()
    }

    /// A folder removed or moved away: its files count as removed, its watches go.
    private func forget(folder: String) {
        let prefix = folder + "/"
        for path in known.keys where path.hasPrefix(prefix) { pending.insert(path) }
        for sub in folders.keys where sub == folder || sub.hasPrefix(prefix) {
            folders[sub] = nil
            polled.remove(sub)
            watcher?.unwatch(folder: sub)
        }
    }

    private func schedule() {
        guard !pending.isEmpty else { return }
        let now = DispatchTime.now()
        if firstPending == nil { firstPending = now }
        let wait = DispatchTimeInterval.nanoseconds(
            Int(debounce.components.seconds) * 1_000_000_000
                + Int(debounce.components.attoseconds / 1_000_000_000))
        // A tree that never settles (a build writing into it) still gets a batch every
        // so often; a burst that merely takes long (a checkout on a slow disk) stays one.
        let cap = (firstPending ?? now) + .seconds(10)
        let at = min(now + wait, cap)
        flushItem?.cancel()
        let item = DispatchWorkItem { [weak self] in self?.flush() }
        flushItem = item
        queue.asyncAfter(deadline: at, execute: item)
    }

    private func flush() {
        guard !stopped else { return }
        firstPending = nil
        flushItem = nil
        var changed: [String] = []
        for path in pending.sorted() {
            let now = FileFingerprint.read(path, hashing: true)
            if FileFingerprint.contentChanged(from: known[path], to: now) { changed.append(path) }
            known[path] = now
        }
        pending = []
        if !changed.isEmpty {
            Trace.mark("watch: \(changed.count) changed after the debounce")
            onBatch(changed)
        }
    }

    // MARK: - Polling past the kernel's limit

    private func startPolling(limit: Int, folder: String) {
        if !limitSaid {
            limitSaid = true
            onMessage(
                "the kernel's limit of inotify watches (fs.inotify.max_user_watches = \(limit)) is reached at \(folder); "
                    + "folders past it are polled every second instead; raise it with sudo sysctl fs.inotify.max_user_watches=524288"
            )
        }
        guard pollTimer == nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(200))
        timer.setEventHandler { [weak self] in self?.poll() }
        pollTimer = timer
        timer.resume()
    }

    private func poll() {
        guard !stopped else { return }
        // Recorded files by folder once per tick: a scan of every recorded file per polled
        // folder cost polled folders × files each second, in exactly the big trees that poll.
        let recorded = Dictionary(
            grouping: known.keys.filter { polled.contains(($0 as NSString).deletingLastPathComponent) }
        ) {
            ($0 as NSString).deletingLastPathComponent
        }
        for folder in polled {
            let names = Set((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            for name in names {
                let path = folder + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    if folders[folder] == true, folders[path] == nil, !skipsFolder(path, name: name) {
                        add(folder: path, recursive: true, initial: false)
                    }
                } else if wants(path) {
                    let quick = FileFingerprint.read(path, hashing: false)
                    let old = known[path]
                    if old == nil || old?.size != quick?.size || old?.modified != quick?.modified
                        || old?.inode != quick?.inode
                    {
                        pending.insert(path)
                    }
                }
            }
            for path in recorded[folder] ?? [] where !names.contains((path as NSString).lastPathComponent) {
                pending.insert(path)
            }
        }
        schedule()
    }
}
