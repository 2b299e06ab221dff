import Foundation
import Testing
@testable import MusterKit

/// https probes go through libcurl, loaded on first use: its answers (and its
/// refusals) come back as probe outcomes.
@Suite struct HTTPSProbeTests {
    @Test func nothingListeningIsNamedByLibcurl() async {
        let outcome = await HTTPProbe(url: "https://127.0.0.1:1/healthz", timeout: .seconds(2)).check()
        guard case let .failed(message) = outcome else {
            Issue.record("an https probe of a closed port passed")
            return
        }
        #expect(message.hasPrefix("GET https://127.0.0.1:1/healthz: "), "\(message)")
        #expect(message.lowercased().contains("connect"), "not libcurl's connection error: \(message)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl to make a self-signed certificate"))
    func aSelfSignedServerFailsVerification() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muster-tls-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let make = try await CLIResult.run(command: ["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                                     "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem"], in: folder)
        try #require(make.status == 0, "\(make.output)")
        let port = try PortPreflight.freePort(avoiding: [])
        let server = """
        import http.server, ssl
        httpd = http.server.HTTPServer(("127.0.0.1", \(port)), http.server.SimpleHTTPRequestHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain("cert.pem", "key.pem")
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        httpd.serve_forever()
        """
        let python = "/usr/bin/python3"
        let pid = try await ProcessSpawner.shared.spawn(SpawnRequest(executable: python, arguments: [python, "-c", server],
                                                                     environment: [], workingDirectory: folder))
        defer {
            ProcessTable.signalGroup(pid, SIGKILL)
            #expect(ProcessTable.waitForExit(pid, within: .seconds(5)), "the TLS server outlived the test")
        }
        let listening = await eventually(within: .seconds(10)) {
            (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(200))) != nil
        }
        try #require(listening, "the TLS server did not listen")
        let outcome = await HTTPProbe(url: "https://127.0.0.1:\(port)/", timeout: .seconds(5)).check()
        guard case let .failed(message) = outcome else {
            Issue.record("a self-signed certificate was accepted")
            return
        }
        #expect(message.lowercased().contains("certificate"), "not a verification failure: \(message)")
    }
}
