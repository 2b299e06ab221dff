import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A stack file in a fresh temp folder, run by muster itself; `finish()` tears it
/// down and asserts that no process of it is left.
// Unchecked: a test's fixture; its one mutable field (the session) is set by start()
// before tests use it from other tasks, which then only read it or run the CLI.
final class TestStack: @unchecked Sendable {
    let directory: String
    let file: String
    let project: String
    private(set) var session: StackSession?

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The built `muster` binary, for tests that need a separate muster process;
    /// `MUSTER_TEST_BINARY` points at a build in another scratch path.
    static var binary: String {
        ProcessInfo.processInfo.environment["MUSTER_TEST_BINARY"] ?? repoRoot + "/.build/debug/muster"
    }

    init(_ yaml: String, name: String = #function) throws {
        let slug = String(name.filter { $0.isLetter || $0.isNumber }.prefix(24)).lowercased()
        project = "t-\(slug)-\(UInt32.random(in: 0...UInt32.max))"
        directory = NSTemporaryDirectory() + "muster-tests/" + project
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        file = directory + "/muster.yaml"
        try ("name: \(project)\n" + yaml).write(toFile: file, atomically: true, encoding: .utf8)
    }

    static var python: String { ProcessInfo.processInfo.environment["MUSTER_PYTHON"] ?? repoRoot + "/.venv/bin/python" }

    /// The shipped default stack, copied to a temp folder so each run has its own data.
    static func defaultStack(name: String = #function) throws -> TestStack {
        var text = try String(contentsOfFile: repoRoot + "/stacks/default.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "name: default\n", with: "")
            .replacingOccurrences(of: "${MUSTER_PYTHON:-../.venv/bin/python}", with: python)
            .replacingOccurrences(of: "\"app/", with: "\"\(repoRoot)/stacks/app/")
        // The copy runs the repository's app files, outside its folder: no watch rules.
        var kept: [Substring] = []
        var inWatch = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("    watch:") { inWatch = !line.contains("["); continue }
            if inWatch, line.hasPrefix("      ") { continue }
            inWatch = false
            kept.append(line)
        }
        text = kept.joined(separator: "\n")
        return try TestStack(text, name: name)
    }

    /// Runs the muster binary in the stack's folder and returns its exit status
    /// and output (stdout and stderr together).
    @discardableResult
    func muster(_ arguments: String...) async throws -> CLIResult {
        try await CLIResult.run(Array(arguments), in: directory)
    }

    /// `muster ps --json` of the running stack.
    func status(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> StatusReport {
        let result = try await muster("ps", "--json")
        try #require(result.status == 0, "ps failed: \(result.output)", sourceLocation: sourceLocation)
        return try ControlJSON.decode(StatusReport.self, from: Data(result.output.utf8))
    }

    /// `muster env --format json` of the running stack.
    func env(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> [String: String] {
        let result = try await muster("env", "--format", "json")
        try #require(result.status == 0, "env failed: \(result.output)", sourceLocation: sourceLocation)
        return try JSONDecoder().decode([String: String].self, from: Data(result.output.utf8))
    }

    func load() throws -> StackSpec { try StackLoader.load(path: file) }

    /// Starts every service (or the named ones) with output kept off the terminal.
    func start(
        _ services: [String] = [], console: Console? = nil,
        timers: any _Concurrency.Clock<Duration> = ContinuousClock()
    ) async throws {
        let session = try StackSession(
            stack: try load(), services: services,
            options: .init(console: console, statusLines: console != nil, timers: timers))
        self.session = session
        try await session.start()
    }

    /// Starts the stack expecting it to fail, and returns the error (nil, with an
    /// issue recorded, when it started).
    func expectStartFailure(sourceLocation: Testing.SourceLocation = #_sourceLocation) async -> MusterError? {
        do {
            try await start()
            Issue.record("the stack started but should have failed", sourceLocation: sourceLocation)
        } catch let error as MusterError {
            return error
        } catch {
            Issue.record("not a MusterError: \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    func snapshot(_ name: String) async -> ServiceSnapshot? {
        await session?.supervisor.snapshot().first { $0.name == name }
    }

    var paths: ProjectPaths { ProjectPaths(directory: directory, project: project) }

    /// The project's event log as muster reads it back.
    func events() -> [ServiceEvent] {
        ServiceEvent.read(paths.eventsFile)
    }

    /// Stops everything and checks that nothing is left: no leftovers had to be
    /// killed, and no process of any pid the stack used is alive.
    func finish(keepFiles: Bool = false, sourceLocation: Testing.SourceLocation = #_sourceLocation) async {
        guard let session else { if !keepFiles { cleanup() }; return }
        let pids = await session.supervisor.snapshot().compactMap(\.pid)
        // Every process below each service too: Postgres's children leave the group.
        let tree = pids.flatMap { pid in
            (ProcessTable.instance(pid).map { [$0] } ?? [])
                + ProcessTable.descendants(of: pid).map(ProcessInstance.init)
        }
        let leftovers = await session.stop()
        #expect(
            leftovers.isEmpty, "processes had to be killed after the orderly stop: \(leftovers)",
            sourceLocation: sourceLocation)
        for pid in pids {
            #expect(
                ProcessTable.members(ofGroup: pid).isEmpty, "group \(pid) still has processes",
                sourceLocation: sourceLocation)
        }
        let left = tree.filter { !ProcessTable.isGone($0) }
        #expect(
            left.isEmpty, "still there after the stop: \(left.map(ProcessTable.describe))",
            sourceLocation: sourceLocation)
        self.session = nil
        if !keepFiles { cleanup() }
    }

    /// Removes the folder. A test that failed before its `down` may have left a
    /// detached supervisor: it is killed first (its guardian takes the services
    /// with it), and whatever is left in the stack's groups too, so no failure
    /// leaks processes into the next test.
    func cleanup() {
        if let state = RuntimeState.readAny(paths) {
            if ProcessTable.isAlive(state.pid), state.pid != getpid() { kill(state.pid, SIGKILL) }
            for group in state.groups ?? [] { ProcessTable.signalGroup(group, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension Duration {
    /// The bound on a state the code must reach on its own (a queue forming for a turn,
    /// a pool refilled at nice 19): ten minutes, so that a machine loaded many times
    /// over (CI shares its cores) never decides a test. A passing test waits no longer.
    static let patience = Duration.seconds(600)
}

/// Whether some work (a task the test started) has ended: a wait for what that work
/// must do on the way gives up at once when it ends without doing it.
final class Ended: @unchecked Sendable {
    private let lock = NSLock()
    private var ended = false
    var hasEnded: Bool { lock.withLock { ended } }
    func mark() { lock.withLock { ended = true } }
}

/// Polls `condition` until it holds or `limit` passes (a bounded wait, not a timing assertion).
func eventually(within limit: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

func readPids(_ path: String) -> [Int32] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).compactMap {
        Int32($0)
    }
}

/// One run of the muster binary.
struct CLIResult {
    var status: Int32
    var output: String

    static func run(_ arguments: [String], in directory: String) async throws -> CLIResult {
        let binary = TestStack.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build muster first: \(binary)")
        return try await run(command: [binary] + arguments, in: directory)
    }

    /// Runs any program (absolute path first) in `directory`; `environment`
    /// overrides (nil removes) variables of the test's own, and NO_COLOR is set
    /// unless overridden.
    static func run(command: [String], in directory: String, environment overrides: [String: String?] = [:])
        async throws -> CLIResult
    {
        let path = directory + "/cli-\(UInt32.random(in: 0...UInt32.max)).out"
        let pid = try await spawn(command, in: directory, output: path, environment: overrides)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        unlink(path)
        return CLIResult(status: status.shellCode, output: text)
    }

    /// Starts a program in the background (it outlives no one: the caller reaps it),
    /// stdout and stderr into `output`.
    static func spawn(
        _ command: [String], in directory: String, output: String,
        environment overrides: [String: String?] = [:]
    ) async throws -> pid_t {
        let fd = open(output, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(fd) }
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        for (key, value) in overrides { environment[key] = value }
        var request = SpawnRequest(
            executable: command[0], arguments: command,
            environment: environment.map { "\($0.key)=\($0.value)" },
            workingDirectory: directory)
        request.outputFD = fd
        request.parentDeathSignal = 0
        return try await ProcessSpawner.shared.spawn(request)
    }

}

/// A value made or used on one thread and handed to another, which alone uses it from
/// then on (a client connection read off the cooperative pool). Unchecked: the hand-over
/// is the only sharing.
struct Handed<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The start of the Python scripts that stand in for a test runner around a kill of
/// `notifier`: RFC 3339 times, and how many times notifier has been ready so far.
enum RunScripts {
    static let preamble = #"""
        import datetime, json, os, signal, sys, time

        def iso(t):
            return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"

        def readies():
            with open(os.environ["MUSTER_EVENTS"]) as events:
                return sum('"service":"notifier","type":"ready"' in line for line in events)

        """#
}
