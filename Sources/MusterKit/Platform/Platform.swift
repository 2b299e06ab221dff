import Foundation

// What muster needs from the operating system beyond POSIX, as small interfaces.
// Each is implemented in a `+Linux` file of this folder (with its C half in
// Sources/CMusterShims), and nowhere else; docs/platform.md says, for each, what
// macOS offers instead and which guarantee would change. The rest of muster calls
// the types named here and never the kernel interfaces behind them.

/// Starts children so that none outlives muster: each in its own session and
/// process group, with the descriptors muster holds closed, credentials dropped when
/// asked, and a signal to the child when muster dies (PR_SET_PDEATHSIG, from one
/// long-lived thread); muster itself is the subreaper of their orphans.
/// Linux: `ProcessSpawner` (fork/exec in spawn.c, prctl).
protocol ChildSpawning: AnyObject, Sendable {
    func spawn(_ request: SpawnRequest) async throws -> pid_t
}

/// Collects the exit of every child and orphan of muster, on one thread, and hands
/// each to whoever waits for that pid; nothing else in muster may wait for a child.
/// Linux: `ProcessReaper` (`waitid(P_ALL)` with the subreaper flag).
protocol ChildReaping: AnyObject, Sendable {
    func exitStatus(of pid: pid_t) async -> ExitStatus
    func statusIfExited(_ pid: pid_t) -> ExitStatus?
    func forget(_ pid: pid_t)
}

/// Calls a handler when a descriptor (a service's pipe, a notify socket) is readable
/// or closed, for every descriptor of the stack from one thread.
/// Linux: `FDReactor` (epoll, reactor.c).
protocol DescriptorWatching: AnyObject, Sendable {
    func add(_ fd: Int32, handler: @escaping FDReactor.Handler) -> UInt64
    func remove(_ token: UInt64)
}

/// Tells when entries of watched folders change, for the file watcher of `watch:`
/// rules: one kernel watch per folder (not recursive: `ChangeWatcher` adds one for
/// every subfolder it finds), notices delivered in batches on the reactor thread.
/// Linux: `FileWatcher` (inotify, one descriptor on the reactor's epoll set).
protocol FileWatching: AnyObject, Sendable {
    /// Starts watching the entries of one folder.
    func watch(folder: String) -> FolderWatchResult
    func unwatch(folder: String)
    /// Stops every watch and releases the kernel's resources; no notice follows.
    func close()
}

/// What asking to watch a folder gave.
enum FolderWatchResult: Equatable, Sendable {
    case watching
    /// The kernel's limit of watches per user is reached; the number is the limit.
    case limitReached(Int)
    /// The folder is gone (or not a folder, or not readable).
    case unavailable
}

/// One change the kernel reported.
enum FileNotice: Equatable, Sendable {
    /// An entry of a watched folder was created, written, moved in or out, or removed.
    case entry(path: String, isFolder: Bool)
    /// A watched folder itself was removed or moved away.
    case folderGone(String)
    /// The kernel dropped notices: everything must be looked at again.
    case overflow
}

/// The process table: liveness without `kill(pid, 0)` (a zombie is gone), process
/// groups and sessions in one pass, children, start times and command lines.
/// Linux: `ProcessTable` (/proc, parsed in procstat.c; pidfd to wait for an exit).
protocol ProcessListing {
    static func entry(_ pid: Int32) -> ProcessInfoEntry?
    static func isAlive(_ pid: Int32) -> Bool
    static func waitForExit(_ pid: Int32, within limit: Duration) -> Bool
    static func allPids() -> [Int32]
    static func members(ofGroups groups: Set<Int32>) -> [ProcessInfoEntry]
    static func children(of pid: Int32) -> [Int32]
    static func commandLine(_ pid: Int32) -> String?
}

/// Kills every registered process group when muster dies, however it dies: a forked
/// process that reads EOF on a pipe muster holds.
/// Linux: `Guardian` (guardian.c); portable POSIX but for its use of the process table.
protocol OrphanGuarding: AnyObject, Sendable {
    func start()
    func register(group: pid_t)
    func unregister(group: pid_t)
}

/// Who listens on a TCP port, named in the one line that says it is taken.
/// Linux: `PortOwners` (/proc/net/tcp and /proc/PID/fd).
protocol PortOwnerLookup {
    static func describeHolder(of port: Int) -> String
}

/// The running binary, what a descriptor is open on, and how to send without SIGPIPE.
/// Linux: `SystemPaths` (/proc/self/exe, /proc/self/fd, MSG_NOSIGNAL).
protocol SystemPathLookup {
    static var executable: String? { get }
    static func path(of fd: Int32) -> String?
    static var sendFlags: Int32 { get }
}

/// One kernel feature a guarantee rests on, for `muster doctor`.
struct KernelFeature {
    var name: String
    var available: Bool
    /// False for an optimisation muster can do without.
    var required: Bool
    var why: String
}

/// Linux: `KernelFeatures` (pidfd, the child subreaper, PR_SET_PDEATHSIG).
protocol KernelFeatureList {
    static var all: [KernelFeature] { get }
}

extension ProcessSpawner: ChildSpawning {}
extension ProcessReaper: ChildReaping {}
extension FDReactor: DescriptorWatching {}
extension ProcessTable: ProcessListing {}
extension Guardian: OrphanGuarding {}
extension FileWatcher: FileWatching {}
