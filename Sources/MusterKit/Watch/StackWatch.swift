import Foundation

/// The development loop of one running stack: watches the files its services'
/// `watch:` rules name and, when their content changes, restarts the service (with its
/// dependents), runs its task again (then restarts what waits for it), or runs its
/// build step first. Changes that arrive while a service is being acted on give
/// exactly one more action once it is done: never lost, never a loop.
public final class StackWatch: @unchecked Sendable {
    /// One service's rules.
    public struct Target: Sendable {
        public var service: String
        public var rules: [WatchRule]
        public var workingDir: String
        public var environment: [String: String]
    }

    /// What running one action needs from the host (one operation at a time).
    public typealias Perform = @Sendable (_ service: String, _ action: WatchAction, _ reason: String) async -> Void

    public let targets: [Target]
    private let projectDirectory: String
    private let watcher: ChangeWatcher
    private let dispatcher: WatchDispatcher

    public init(
        targets: [Target], projectDirectory: String, debounce: Duration, simulatedLimit: Int? = nil,
        onMessage: @escaping @Sendable (String) -> Void, perform: @escaping Perform
    ) {
        self.targets = targets
        self.projectDirectory = projectDirectory
        let dispatcher = WatchDispatcher(perform: perform)
        self.dispatcher = dispatcher
        var roots: [ChangeWatcher.Root] = []
        for rule in targets.flatMap(\.rules) {
            let root = GlobMatcher.root(of: rule)
            let candidate = ChangeWatcher.Root(folder: root.folder, recursive: root.recursive)
            if let index = roots.firstIndex(where: { $0.folder == candidate.folder }) {
                roots[index].recursive = roots[index].recursive || candidate.recursive
            } else {
                roots.append(candidate)
            }
        }
        let rules = targets.flatMap { target in target.rules.map { (target.service, $0) } }
        watcher = ChangeWatcher(
            roots: roots, debounce: debounce, simulatedLimit: simulatedLimit,
            interest: { path in
                rules.contains { GlobMatcher.covers($0.1, file: path, projectDirectory: projectDirectory) }
            },
            onMessage: onMessage,
            onBatch: { paths in
                for (service, rule, files) in StackWatch.route(paths, rules: rules, projectDirectory: projectDirectory)
                {
                    Task { await dispatcher.changed(service: service, action: rule.action, files: files) }
                }
            })
    }

    /// Which service each changed file concerns, and through which of its rules (the first that covers it).
    static func route(_ paths: [String], rules: [(String, WatchRule)], projectDirectory: String) -> [(
        String, WatchRule, [String]
    )] {
        var result: [(String, WatchRule, [String])] = []
        for path in paths {
            var seen = Set<String>()
            for (service, rule) in rules
            where !seen.contains(service) && GlobMatcher.covers(rule, file: path, projectDirectory: projectDirectory) {
                seen.insert(service)
                let shown = GlobMatcher.relativePath(path, to: projectDirectory) ?? path
                if let index = result.firstIndex(where: { $0.0 == service }) {
                    result[index].2.append(shown)
                } else {
                    result.append((service, rule, [shown]))
                }
            }
        }
        return result
    }

    /// `files changed: app/api.py (+3 more)`.
    public static func reason(for files: [String]) -> String {
        guard let first = files.first else { return "files changed" }
        return "files changed: \(first)" + (files.count > 1 ? " (+\(files.count - 1) more)" : "")
    }

    /// Puts every watch in place (the project's `.gitignore` is read first); returns once watching.
    public func start() {
        watcher.start(gitignoreFolders: [projectDirectory])
    }

    /// Removes every watch; no change acts after it.
    public func stopWatching() {
        watcher.stop()
        Task { [dispatcher] in await dispatcher.refuseMore() }
    }

    /// Waits for an action under way to end (after `stopWatching`).
    public func finish() async {
        await dispatcher.close()
    }

    public var counts: (watched: Int, polled: Int) { watcher.counts }
}

/// One action at a time per service; what changes meanwhile is gathered into one more.
actor WatchDispatcher {
    private let perform: StackWatch.Perform
    private var busy = Set<String>()
    private var queued: [String: (action: WatchAction, files: [String])] = [:]
    private var running: [String: Task<Void, Never>] = [:]
    private var closed = false

    init(perform: @escaping StackWatch.Perform) {
        self.perform = perform
    }

    func changed(service: String, action: WatchAction, files: [String]) {
        guard !closed else { return }
        if busy.contains(service) {
            var next = queued[service] ?? (action, [])
            for file in files where !next.files.contains(file) { next.files.append(file) }
            queued[service] = next
            return
        }
        busy.insert(service)
        running[service] = Task { await self.drive(service: service, action: action, files: files) }
    }

    private func drive(service: String, action: WatchAction, files: [String]) async {
        var current: (action: WatchAction, files: [String])? = (action, files)
        while let work = current, !closed {
            await perform(service, work.action, StackWatch.reason(for: work.files))
            current = queued.removeValue(forKey: service)
        }
        busy.remove(service)
        running[service] = nil
    }

    func refuseMore() {
        closed = true
        queued = [:]
    }

    func close() async {
        closed = true
        queued = [:]
        for task in running.values { await task.value }
    }
}
