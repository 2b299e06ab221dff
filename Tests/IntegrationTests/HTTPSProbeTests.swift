import Foundation
import Testing
@testable import MusterKit

/// https through muster's one HTTP client: TLS from the system's OpenSSL, the response
/// framed by the same parser as http. Real TLS servers (Python's ssl) with certificates
/// made here by openssl.
@Suite struct HTTPSProbeTests {
    static let haveOpenSSL =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    @Test func nothingListeningIsAConnectionRefused() async {
        let outcome = await HTTPProbe(url: "https://127.0.0.1:1/healthz", timeout: .seconds(2)).check()
        guard case let .failed(message) = outcome else {
            Issue.record("an https probe of a closed port passed")
            return
        }
        #expect(message == "connection refused to 127.0.0.1:1", "\(message)")
    }

    @Test(.enabled(if: haveOpenSSL, "needs openssl and python3 for a TLS server"))
    func aSelfSignedServerFailsVerification() async throws {
        let server = try await TLSServer(framing: "length")
        defer { server.stop() }
        let outcome = await HTTPProbe(url: "https://127.0.0.1:\(server.port)/", timeout: .seconds(5)).check()
        guard case let .failed(message) = outcome else {
            Issue.record("a self-signed certificate was accepted")
            return
        }
        #expect(
            message.contains("certificate verify failed: self-signed certificate"),
            "not a verification failure: \(message)")
    }

    @Test(
        .enabled(if: haveOpenSSL, "needs openssl and python3 for a TLS server"),
        arguments: ["chunked", "length", "close"])
    func aTrustedServerPassesWithItsIdentityWhateverTheFraming(_ framing: String) async throws {
        let server = try await TLSServer(framing: framing)
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/health"
        let outcome = await offload {
            HTTPProbe.get(url, timeout: .seconds(5), identityField: "instance", trusting: server.certificate)
        }
        #expect(outcome == .passed(identity: "1"), "\(framing)")
    }

    @Test(.enabled(if: haveOpenSSL, "needs openssl and python3 for a TLS server"))
    func aCertificateForAnotherAddressFails() async throws {
        let server = try await TLSServer(framing: "length", address: "127.0.0.2")
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/health"
        let outcome = await offload {
            HTTPProbe.get(url, timeout: .seconds(5), identityField: nil, trusting: server.certificate)
        }
        guard case let .failed(message) = outcome else {
            Issue.record("a certificate for 127.0.0.2 was accepted for 127.0.0.1")
            return
        }
        #expect(message.contains("certificate verify failed: IP address mismatch"), "\(message)")
    }

    /// The supervisor, a process of its own, trusts the certificate through OpenSSL's
    /// SSL_CERT_FILE (as a private CA would be trusted), and its alive probe over https
    /// sees a change of identity in place.
    @Test(.enabled(if: haveOpenSSL, "needs openssl and python3 for a TLS server"))
    func anIdentityChangeOverHTTPSIsDetected() async throws {
        let tls = try await TLSServer.certificate()
        defer { try? FileManager.default.removeItem(atPath: tls.folder) }
        let script = TestStack.repoRoot + "/Tests/Fixtures/servers/identity_http.py"
        let stack = try TestStack(
            """
            services:
              app:
                command: ["python3", "\(script)", "chunked", "${app.port}", "\(tls.folder)/cert.pem", "\(tls.folder)/key.pem"]
                port: auto
                ready: { http: "https://127.0.0.1:${app.port}/health" }
                alive: { http: "https://127.0.0.1:${app.port}/health", interval: 100ms, identity: instance }
            """)
        defer { stack.cleanup() }
        try "1\n".write(toFile: stack.directory + "/instance", atomically: true, encoding: .utf8)
        let trusted: [String: String?] = ["SSL_CERT_FILE": tls.folder + "/cert.pem"]
        let up = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"], in: stack.directory, environment: trusted)
        try #require(up.status == 0, "\(up.output)")
        let served = {
            ((try? String(contentsOfFile: stack.directory + "/requests.log", encoding: .utf8)) ?? "").split(
                separator: "\n"
            ).count
        }
        let seen = served()
        #expect(await eventually(within: .seconds(30)) { served() >= seen + 2 }, "the alive probe never looked")
        try "2\n".write(toFile: stack.directory + "/instance", atomically: true, encoding: .utf8)
        let detected = await eventually(within: .seconds(30)) {
            stack.events().contains { $0.type == .restartDetected && $0.service == "app" }
        }
        #expect(detected, "an https health endpoint changed its identity and nothing was reported")
        let reason = stack.events().first { $0.type == .restartDetected }?.reason
        #expect(reason?.contains("new identity (1 → 2)") == true, "\(reason ?? "none")")
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")
        #expect(ControlClient.connect(stack.paths) == nil)
    }
}

/// identity_http.py over TLS with a self-signed certificate for one IP address.
final class TLSServer: @unchecked Sendable {
    let folder: String
    let port: Int
    let pid: pid_t
    var certificate: String { folder + "/cert.pem" }

    /// A key and a self-signed certificate for `address` in a new folder.
    static func certificate(address: String = "127.0.0.1") async throws -> (folder: String, status: Int32) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "muster-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        ).path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let make = try await CLIResult.run(
            command: [
                "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-days", "1", "-subj", "/CN=\(address)", "-addext", "subjectAltName=IP:\(address)",
                "-keyout", "key.pem", "-out", "cert.pem",
            ], in: folder)
        try #require(make.status == 0, "\(make.output)")
        return (folder, make.status)
    }

    init(framing: String, address: String = "127.0.0.1") async throws {
        folder = try await Self.certificate(address: address).folder
        port = try PortPreflight.freePort(avoiding: [])
        let script = TestStack.repoRoot + "/Tests/Fixtures/servers/identity_http.py"
        let python = "/usr/bin/python3"
        pid = try await ProcessSpawner.shared.spawn(
            SpawnRequest(
                executable: python, arguments: [python, script, framing, "\(port)", "cert.pem", "key.pem"],
                environment: [], workingDirectory: folder))
        let port = port
        let listening = await eventually(within: .seconds(10)) {
            (try? TCPConnection(host: "127.0.0.1", port: port, timeout: .milliseconds(200))) != nil
        }
        if !listening { stop() }
        try #require(listening, "the TLS server did not listen")
    }

    func stop() {
        ProcessTable.signalGroup(pid, SIGKILL)
        #expect(ProcessTable.waitForExit(pid, within: .seconds(5)), "the TLS server outlived the test")
        try? FileManager.default.removeItem(atPath: folder)
    }
}
