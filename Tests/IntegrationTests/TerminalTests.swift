import Foundation
import Testing
@testable import MusterKit

/// On a terminal `up -d` draws a live view; piped or with NO_COLOR it prints plain,
/// stable lines. The terminal is a pseudo-terminal made by script(1).
@Suite(.serialized) struct TerminalTests {
    static let stackText = """
        services:
          cache:
            engine: redis
            port: auto
          app:
            command: "echo listening; sleep 300"
            depends_on: [cache]
            ready: { log: listening }
        """

    @Test(
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal"))
    func liveViewOnATerminalPlainLinesOtherwise() async throws {
        let stack = try TestStack(Self.stackText)
        defer { stack.cleanup() }
        let tty = try await CLIResult.run(
            command: ["/usr/bin/script", "-q", "-e", "-c", "\(TestStack.binary) up -d", "/dev/null"],
            in: stack.directory, environment: ["NO_COLOR": nil, "TERM": "xterm"])
        #expect(tty.status == 0, "\(tty.output)")
        #expect(tty.output.contains("\u{1B}[2K"), "no live redraw on a terminal")
        #expect(tty.output.contains("✔"), "no finished marks on a terminal")
        let down = try await stack.muster("down")
        #expect(down.status == 0, "\(down.output)")

        let piped = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"], in: stack.directory,
            environment: ["NO_COLOR": nil, "TERM": "xterm"])
        #expect(piped.status == 0, "\(piped.output)")
        #expect(!piped.output.contains("\u{1B}"), "escape codes in piped output")
        #expect(piped.output.contains("cache ready") && piped.output.contains("app ready"))
        let secondDown = try await stack.muster("down")
        #expect(secondDown.status == 0, "\(secondDown.output)")
    }
}
