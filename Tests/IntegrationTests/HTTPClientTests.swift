import Foundation
import Testing
@testable import MusterKit

/// The CLI's control client on muster's one HTTP client: the event stream of a real
/// supervisor read as it is written, and a connection kept between GETs (and sent again
/// when the server has closed it) against a real HTTP/1.1 server on a unix socket.
@Suite struct HTTPClientTests {
    @Test func theControlClientStreamsEventsAsTheyHappen() async throws {
        let stack = try TestStack(
            """
            services:
              app: { command: ["sleep", "600"] }
            """)
        defer { stack.cleanup() }
        let up = try await stack.muster("up", "-d")
        try #require(up.status == 0, "\(up.output)")
        let client = try #require(ControlClient.connect(stack.paths))
        let lines = LockedLines()
        // Followed on a thread of its own: the stream ends when the restart's ready event has come.
        // Its read timeout only guards against a hang: a loaded machine once took over 60 s.
        let follower = Task.detached {
            try client.stream("GET", "/v1/events?since=0&follow=true", timeout: .patience) { data in
                lines.add(String(decoding: data, as: UTF8.self))
                return !lines.text.contains("\"type\":\"restarted\"")
                    || !lines.text.split(separator: "\n").last!.contains("\"type\":\"ready\"")
            }
        }
        #expect(
            await eventually(within: .patience) { lines.text.contains("\"type\":\"ready\"") },
            "the stream has the first ready: \(lines.text)")
        let restart = try await stack.muster("restart", "app")
        #expect(restart.status == 0, "\(restart.output)")
        let status = try await follower.value
        #expect(status == 200)
        let types = lines.text.split(separator: "\n").compactMap { ServiceEvent.parse(String($0))?.type.rawValue }
        #expect(types.contains("restarted") && types.last == "ready", "\(types)")
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")
    }

    @Test(
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs python3 for the server"))
    func aGetKeepsItsConnectionAndSendsAgainWhenTheServerClosedIt() async throws {
        let folder = NSTemporaryDirectory() + "muster-keepalive-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Each answer names its connection and its request on it; after two GETs the
        // server closes the connection without saying so.
        let server = """
            import http.server, socketserver
            connections = 0
            class Handler(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"
                def setup(self):
                    global connections
                    super().setup()
                    connections += 1
                    self.number, self.served = connections, 0
                def answer(self):
                    self.served += 1
                    length = int(self.headers.get("Content-Length") or 0)
                    self.rfile.read(length)
                    body = b"%s connection %d request %d" % (self.command.encode(), self.number, self.served)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    if self.served == 2:
                        self.close_connection = True
                do_GET = do_POST = answer
                def log_message(self, *args): pass
            socketserver.ThreadingUnixStreamServer("control.sock", Handler).serve_forever()
            """
        let python = "/usr/bin/python3"
        let pid = try await ProcessSpawner.shared.spawn(
            SpawnRequest(
                executable: python, arguments: [python, "-c", server],
                environment: [], workingDirectory: folder))
        defer {
            ProcessTable.signalGroup(pid, SIGKILL)
            #expect(ProcessTable.waitForExit(pid, within: .seconds(5)), "the server outlived the test")
        }
        let socket = folder + "/control.sock"
        #expect(
            await eventually { (try? TCPConnection(unixSocket: socket, timeout: .milliseconds(200))) != nil },
            "the server did not listen")
        let client = ControlClient(socketPath: socket)
        func get(_ method: String = "GET") throws -> String {
            String(
                decoding: try client.request(method, "/v1/status", body: method == "POST" ? Data("{}".utf8) : nil).body,
                as: UTF8.self)
        }
        // The connection that checked the server was listening counts as the first.
        #expect(try get() == "GET connection 2 request 1")
        #expect(try get() == "GET connection 2 request 2")
        #expect(
            try get() == "GET connection 3 request 1",
            "sent again on a new connection after the server closed the kept one")
        #expect(try get("POST") == "POST connection 4 request 1", "an operation has a connection of its own")
        #expect(try get() == "GET connection 3 request 2", "the kept connection is still the GETs'")
    }
}

/// What a stream handed out, read by the test while the stream goes on.
final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""

    func add(_ piece: String) { lock.withLock { collected += piece } }
    var text: String { lock.withLock { collected } }
}
