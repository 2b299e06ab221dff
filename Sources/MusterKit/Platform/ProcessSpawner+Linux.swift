import CMusterShims
import Foundation

/// What to run and how.
public struct SpawnRequest: Sendable {
    /// Absolute path of the program.
    public var executable: String
    public var arguments: [String]
    /// `KEY=value` strings: the complete environment of the child.
    public var environment: [String]
    public var workingDirectory: String?
    /// Write end for stdout and stderr together; -1 sends them to /dev/null.
    public var outputFD: Int32 = -1
    /// A separate stderr (`muster run` passes its own 0, 1 and 2 on); nil: same as outputFD.
    public var errorFD: Int32?
    /// stdin; -1 is /dev/null (services never read the terminal).
    public var inputFD: Int32 = -1
    /// Drop to this uid/gid before exec (muster running as root, Postgres refusing root).
    public var credentials: (uid: uid_t, gid: gid_t)?
    /// Own session and process group, so signals reach the whole tree.
    public var newSession = true
    /// Passed on as the child's fd 3 (a detached supervisor's report pipe); -1: none.
    public var fd3: Int32 = -1
    /// Sent to the child when muster dies. Zero only for the detached supervisor,
    /// which must outlive the `up -d` that started it.
    public var parentDeathSignal: Int32 = SIGKILL

    public init(executable: String, arguments: [String], environment: [String], workingDirectory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// Forks every child from one long-lived thread.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the
/// process; forking from pooled threads (which come and go) would kill services at
/// random. One thread that lives as long as muster makes the signal mean exactly
/// "muster died".
/// Unchecked: the job queue is guarded by its NSCondition; the fork thread owns the rest.
public final class ProcessSpawner: @unchecked Sendable {
    public static let shared = ProcessSpawner()

    private struct Job {
        let request: SpawnRequest
        let done: (Result<pid_t, MusterError>) -> Void
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var thread: Thread?
    private let devNull: Int32 = open("/dev/null", O_RDWR | O_CLOEXEC)

    private init() {}

    public func spawn(_ request: SpawnRequest) async throws -> pid_t {
        startIfNeeded()
        let result: Result<pid_t, MusterError> = await withCheckedContinuation { continuation in
            condition.lock()
            jobs.append(Job(request: request) { continuation.resume(returning: $0) })
            condition.signal()
            condition.unlock()
        }
        return try result.get()
    }

    private func startIfNeeded() {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        ProcessReaper.shared.startIfNeeded()
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "muster-spawner"
        self.thread = thread
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.done(perform(job.request))
        }
    }

    private func perform(_ request: SpawnRequest) -> Result<pid_t, MusterError> {
        let argv =
            ([request.executable.isEmpty ? "" : request.arguments.first ?? request.executable]
            + request.arguments.dropFirst()).map { strdup($0) } + [nil]
        let envp = request.environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let output = request.outputFD >= 0 ? request.outputFD : devNull
        var pid: pid_t = 0
        var err: Int32 = 0
        ProcessReaper.shared.forkBegins()
        let step: Int32 = request.executable.withCString { path in
            (request.workingDirectory ?? "").withCString { cwd in
                argv.withUnsafeBufferPointer { argvBuffer in
                    envp.withUnsafeBufferPointer { envBuffer in
                        var config = muster_spawn_config()
                        config.path = path
                        config.argv = UnsafePointer(argvBuffer.baseAddress!)
                        config.envp = UnsafePointer(envBuffer.baseAddress!)
                        config.cwd = request.workingDirectory == nil ? nil : cwd
                        config.stdin_fd = request.inputFD >= 0 ? request.inputFD : devNull
                        config.stdout_fd = output
                        config.stderr_fd = request.errorFD ?? output
                        config.fd3 = request.fd3
                        config.new_session = request.newSession ? 1 : 0
                        if let credentials = request.credentials {
                            config.drop_privileges = 1
                            config.uid = credentials.uid
                            config.gid = credentials.gid
                        }
                        config.parent_death_signal = request.parentDeathSignal
                        config.expected_parent = getpid()
                        return muster_spawn(&config, &pid, &err)
                    }
                }
            }
        }
        ProcessReaper.shared.forkEnded(pid)
        Trace.mark("forked and exec'd \(request.executable)")
        guard step == 0 else {
            if pid > 0 {
                Task.detached {
                    _ = await ProcessReaper.shared.exitStatus(of: pid); ProcessReaper.shared.forget(pid)
                }
            }
            return .failure(Self.describe(step: step, errno: err, request: request))
        }
        return .success(pid)
    }

    /// A pipe whose ends are close-on-exec (pass one on with `SpawnRequest.fd3`).
    public static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&fds) == 0 else {
            throw MusterError(.environment, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        return (fds[0], fds[1])
    }

    /// Forks a detached supervisor from this process if it is still single-threaded
    /// (see muster_fork_detached): 0 in the child, the child's pid in the parent, or
    /// a negative value when nothing was forked.
    public static func forkDetached(reportFD: Int32, logFD: Int32) -> pid_t {
        muster_fork_detached(reportFD, logFD)
    }

    /// The running muster binary, to start a detached supervisor with.
    public static var currentExecutable: String {
        SystemPaths.executable ?? CommandLine.arguments[0]
    }

    static func describe(step: Int32, errno err: Int32, request: SpawnRequest) -> MusterError {
        let reason = String(cString: strerror(err))
        let what: String
        switch Int(step) {
        case Int(MUSTER_STEP_EXEC):
            what = "cannot run \(request.executable): \(reason)"
        case Int(MUSTER_STEP_CHDIR):
            what = "cannot enter working directory \(request.workingDirectory ?? "?"): \(reason)"
        case Int(MUSTER_STEP_SETUID), Int(MUSTER_STEP_SETGID), Int(MUSTER_STEP_SETGROUPS):
            what = "cannot switch to uid \(request.credentials?.uid ?? 0): \(reason)"
        default:
            what = "cannot start \(request.executable) (step \(step)): \(reason)"
        }
        return MusterError(.serviceFailed, what)
    }
}
