import Foundation

/// Ready when a command exits 0 within the timeout; a command that overruns is
/// killed with its whole process group.
public struct ExecProbe: PollingProbe {
    public var executable: String
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    public var timeout: Duration

    public init(
        executable: String, arguments: [String], environment: [String], workingDirectory: String, timeout: Duration
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
    }

    public func check() async -> ProbeOutcome {
        let request = SpawnRequest(
            executable: executable, arguments: arguments, environment: environment,
            workingDirectory: workingDirectory)
        let pid: pid_t
        do { pid = try await ProcessSpawner.shared.spawn(request) } catch { return .failed("\(error)") }
        Guardian.shared.register(group: pid)
        defer {
            ProcessTable.signalGroup(pid, SIGKILL)
            Guardian.shared.unregister(group: pid)
        }
        let status: ExitStatus? = await withTaskGroup(of: ExitStatus?.self) { group in
            group.addTask { await ProcessReaper.shared.exitStatus(of: pid) }
            group.addTask { [timeout] in
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            if first == nil {
                ProcessTable.signalGroup(pid, SIGKILL)
                _ = await group.next()
            }
            group.cancelAll()
            return first
        }
        ProcessReaper.shared.forget(pid)
        guard let status else {
            return .failed(
                "\(arguments.joined(separator: " ")) did not finish within \(DurationParser.format(timeout))")
        }
        return status.isSuccess ? .passed(identity: nil) : .failed("\(arguments.joined(separator: " ")) \(status)")
    }
}
