import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// The interactive view, driven as a person would: muster runs in a detached tmux
/// session of a fixed size; the test types keys (send-keys) and reads the screen
/// (capture-pane). scripts/install-deps installs tmux.
@Suite(.serialized) struct InteractiveViewTests {
    static let stackText = """
        services:
          ticker:
            command: "while true; do echo tick; sleep 1; done"
            restart: on-failure
            port: auto
          worker:
            command: "echo worker up; exec sleep 300"
            restart: on-failure
            port: auto
          web:
            command: "exec \(TestStack.python) -u -m http.server $$PORT --bind 127.0.0.1"
            port: auto
            restart: on-failure
            ready: { http: "http://127.0.0.1:${web.port}/" }
        """
    static let names = ["ticker", "worker", "web"]

    @Test(
        .enabled(
            if: Tmux.path != nil,
            "tmux is not installed and could not be: run scripts/install-deps (apt-get install tmux)"))
    func foregroundUpShowsServicesRestartsWithAKeyAndQuitsLeavingNothing() async throws {
        let stack = try TestStack(Self.stackText)
        let tmux = Tmux()
        defer {
            tmux.kill()
            stack.cleanup()
        }
        try await tmux.start("\(TestStack.binary) up; echo \"muster exited with $?\"", in: stack.directory)
        let allReady = await tmux.waitFor { screen in
            Self.names.allSatisfy { Tmux.row($0, in: screen)?.state == "ready" }
        }
        try #require(allReady, "not every service shown ready:\n\(tmux.last)")
        #expect(await tmux.screen().contains("3/3 ready"))
        let before = try await stack.status()
        let worker = try #require(before.services.first { $0.name == "worker" })
        #expect(
            Tmux.row("worker", in: await tmux.screen())?.pid == worker.pid.map(String.init),
            "pid on screen differs from ps")

        // Select worker (the second row) and restart it with r.
        await tmux.send("j")
        #expect(
            await tmux.waitFor { Tmux.row("worker", in: $0)?.selected == true }, "worker not selected:\n\(tmux.last)")
        await tmux.send("r")
        let restarted = await tmux.waitFor { screen in
            guard let row = Tmux.row("worker", in: screen) else { return false }
            return row.restarts == "1" && row.pid != worker.pid.map(String.init) && row.state == "ready"
        }
        #expect(restarted, "the restart does not show:\n\(tmux.last)")
        let after = try await stack.status()
        #expect(after.services.first { $0.name == "worker" }?.restarts == 1)
        #expect(after.services.first { $0.name == "worker" }?.pid != worker.pid)

        // A key that makes no sense now does nothing and says why.
        await tmux.send("S")
        #expect(await tmux.waitFor { $0.contains("worker is already running") }, "no reason given:\n\(tmux.last)")
        #expect(try await stack.status().services.first { $0.name == "worker" }?.restarts == 1)

        // q tears everything down, as Ctrl-C does.
        let groups = after.groups
        let ports = after.services.flatMap(\.ports)
        await tmux.send("q")
        let exited = await tmux.waitFor(within: .seconds(30)) { $0.contains("muster exited with 0") }
        #expect(exited, "muster did not exit 0 after q:\n\(tmux.last)")
        #expect(await tmux.screen().contains("all stopped; no process left"))
        Self.expectNothingLeft(groups: groups, ports: ports)
    }

    @Test(
        .enabled(
            if: Tmux.path != nil,
            "tmux is not installed and could not be: run scripts/install-deps (apt-get install tmux)"))
    func attachShowsADetachedStackAndQLeavesItRunning() async throws {
        let stack = try TestStack(Self.stackText)
        let tmux = Tmux()
        defer {
            tmux.kill()
            stack.cleanup()
        }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        try await tmux.start("\(TestStack.binary) attach; echo \"attach exited with $?\"", in: stack.directory)
        let shown = await tmux.waitFor { screen in Self.names.allSatisfy { Tmux.row($0, in: screen)?.state == "ready" }
        }
        #expect(shown, "attach does not show the services:\n\(tmux.last)")
        #expect(await tmux.screen().contains("q detach"), "the screen does not say q detaches")
        await tmux.send("q")
        let detached = await tmux.waitFor { $0.contains("attach exited with 0") }
        #expect(detached, "attach did not exit 0 after q:\n\(tmux.last)")
        #expect(await tmux.screen().contains("keeps running"))

        let status = try await stack.status()
        #expect(
            status.services.allSatisfy { $0.ready },
            "the stack did not stay up: \(status.services.map { "\($0.name) \($0.state)" })")

        // Attached again, `muster down` from elsewhere ends the view and says so.
        let again = Tmux()
        defer { again.kill() }
        try await again.start("\(TestStack.binary) attach; echo \"attach exited with $?\"", in: stack.directory)
        #expect(await again.waitFor { Tmux.row("web", in: $0)?.state == "ready" }, "\(again.last)")
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")
        #expect(
            await again.waitFor {
                $0.contains("project \(stack.project) stopped") && $0.contains("attach exited with 0")
            },
            "attach did not notice the stack went away:\n\(again.last)")
        Self.expectNothingLeft(groups: status.groups, ports: status.services.flatMap(\.ports))
    }

    /// On a terminal, --no-tui keeps the plain stream; piped, `up` never draws the
    /// view even with a colour-capable TERM: the same lines as before the view existed.
    @Test(
        .enabled(
            if: Tmux.path != nil,
            "tmux is not installed and could not be: run scripts/install-deps (apt-get install tmux)"))
    func noTuiAndPipedOutputStayPlain() async throws {
        let stack = try TestStack(Self.stackText)
        let tmux = Tmux()
        defer {
            tmux.kill()
            stack.cleanup()
        }
        try await tmux.start("\(TestStack.binary) up --no-tui; echo \"muster exited with $?\"", in: stack.directory)
        #expect(await tmux.waitFor { $0.contains("muster │ all 3 services up; Ctrl-C to stop") }, "\(tmux.last)")
        #expect(await !tmux.screen().contains("3/3 ready"), "the view was drawn with --no-tui")
        await tmux.send("C-c")
        #expect(await tmux.waitFor(within: .seconds(30)) { $0.contains("muster exited with 0") }, "\(tmux.last)")

        let output = stack.directory + "/piped.out"
        let muster = try await CLIResult.spawn(
            [TestStack.binary, "up"], in: stack.directory, output: output,
            environment: ["NO_COLOR": nil, "TERM": "xterm-256color"])
        let read = { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        let up = await eventually(within: .seconds(30)) { read().contains("all 3 services up; Ctrl-C to stop") }
        kill(muster, SIGINT)
        let status = await ProcessReaper.shared.exitStatus(of: muster)
        ProcessReaper.shared.forget(muster)
        #expect(up, "\(read())")
        #expect(status.shellCode == 0)
        let text = read()
        #expect(!text.contains("\u{1B}"), "escape codes in piped output")
        #expect(
            text.contains("worker │ worker up") && text.contains("muster │ all stopped; no process left"), "\(text)")
        #expect(text.contains("worker ready"), "no status lines in piped output: \(text)")
    }

    static func expectNothingLeft(
        groups: [Int32], ports: [Int], sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        #expect(!groups.isEmpty, sourceLocation: sourceLocation)
        for group in groups {
            #expect(
                ProcessTable.members(ofGroup: group).isEmpty, "group \(group) still has processes",
                sourceLocation: sourceLocation)
        }
        for port in ports where (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(300))) != nil
        {
            // A port freed by `down` may be taken at once by another test's `port: auto`:
            // only a listener of this stack's own groups is a leak.
            let holder = PortOwners.holder(of: port).flatMap(ProcessTable.entry)
            let ours = holder.map { Set(groups).contains($0.processGroup) || Set(groups).contains($0.session) } ?? true
            #expect(
                !ours, "port \(port) still accepts connections: \(PortOwners.describeHolder(of: port))",
                sourceLocation: sourceLocation)
        }
    }
}

/// One tmux server of the test's own (`-L`), with one 120x40 session.
final class Tmux {
    static let path: String? = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    let socket = "muster-test-\(UInt32.random(in: 0...UInt32.max))"
    private var serverPid: Int32?
    /// The screen as last captured, for messages.
    private(set) var last = ""

    /// Runs `command` with the shell in a new session; the pane stays (sleep) so
    /// the test can read what was printed after muster exited.
    func start(_ command: String, in directory: String) async throws {
        // The tmux server inherits the test's environment, where CLIResult sets NO_COLOR.
        let shell = "cd '\(directory)' && env -u NO_COLOR \(command); sleep 600"
        let result = try await CLIResult.run(
            command: [
                Self.path!, "-L", socket, "new-session", "-d", "-s", "view",
                "-x", "120", "-y", "40", shell,
            ], in: directory)
        try #require(result.status == 0, "tmux new-session failed: \(result.output)")
        serverPid = Int32(
            await tmux(["display-message", "-p", "#{pid}"]).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs a tmux command against this server (through muster's spawner: the
    /// reaper must see every child) and returns what it printed.
    @discardableResult
    private func tmux(_ arguments: [String]) async -> String {
        (try? await CLIResult.run(command: [Self.path!, "-L", socket] + arguments, in: NSTemporaryDirectory()).output)
            ?? ""
    }

    func screen() async -> String {
        last = await tmux(["capture-pane", "-p", "-t", "view"])
        return last
    }

    func send(_ key: String) async { await tmux(["send-keys", "-t", "view", key]) }

    /// Ends the server, which hangs up on its session and what still runs in it
    /// (muster stops its stack on SIGHUP). Synchronous, for `defer`.
    func kill() {
        if let serverPid, serverPid > 1 { Glibc.kill(serverPid, SIGTERM) }
    }

    /// Polls the screen until `condition` holds (a bounded wait, not a timing assertion).
    func waitFor(within limit: Duration = .seconds(60), _ condition: @escaping (String) -> Bool) async -> Bool {
        await eventually(within: limit) {
            try? await Task.sleep(for: .milliseconds(100))
            return condition(await self.screen())
        }
    }

    struct Row {
        var selected: Bool
        var state: String
        var pid: String
        var restarts: String
    }

    /// The service's row of the table: `▶ name state pid ports restarts ready uptime`.
    static func row(_ name: String, in screen: String) -> Row? {
        for line in screen.split(separator: "\n") {
            let selected = line.hasPrefix("▶ ")
            guard line.hasPrefix("  ") || selected else { continue }
            let cells = line.dropFirst(2).split(separator: " ").map(String.init)
            guard cells.count >= 5, cells[0] == name else { continue }
            return Row(selected: selected, state: cells[1], pid: cells[2], restarts: cells[4])
        }
        return nil
    }
}
