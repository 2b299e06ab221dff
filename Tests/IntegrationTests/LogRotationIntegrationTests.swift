import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A service that prints without pause stays within its log cap on disk, and
/// `logs`, `logs --tail` and `logs -f` read across the rotated files.
@Suite struct LogRotationIntegrationTests {
    /// `line-0`, `line-1`, ... as fast as awk can print: the numbers show whether
    /// lines read back are whole, in order and the newest.
    static let chatty = #"command: ["awk", "BEGIN { for (i = 0; ; i++) print \"line-\" i }"]"#

    private func diskUsage(_ stack: TestStack) -> Int {
        LogFiles.all(stack.paths.logFile(for: "chatty")).reduce(0) { total, file in
            total + (((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0)
        }
    }

    private func numbers(_ lines: some Sequence<Substring>) -> [Int] {
        lines.compactMap { $0.hasPrefix("line-") ? Int($0.dropFirst(5)) : nil }
    }

    @Test func aServicePrintingWithoutPauseStaysWithinItsCap() async throws {
        let cap = 1 << 20, files = 2
        let stack = try TestStack(
            """
            services:
              chatty:
                \(Self.chatty)
                logs: { max_size: 1MB, max_files: \(files) }
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)

        // Follow from now on while the log rotates many times over.
        let followed = stack.directory + "/followed.out"
        let follower = try await CLIResult.spawn(
            [TestStack.binary, "logs", "-f", "chatty"], in: stack.directory, output: followed)
        var largest = 0
        _ = await eventually(within: .seconds(20)) {
            largest = max(largest, diskUsage(stack))
            let size = ((try? FileManager.default.attributesOfItem(atPath: followed))?[.size] as? Int) ?? 0
            return size > 3 * cap
        }
        kill(follower, SIGTERM)
        _ = await ProcessReaper.shared.exitStatus(of: follower)
        ProcessReaper.shared.forget(follower)
        // At most the cap times (rotated files + 1), plus one write (a pump chunk).
        #expect(largest > 0 && largest <= cap * (files + 1) + OutputPump.chunkSize, "\(largest) bytes on disk")
        #expect(await eventually { LogFiles.all(stack.paths.logFile(for: "chatty")).count == files + 1 })
        // The follower was killed mid-stream: its last write may end inside a line
        // (`line-12` of `line-123456`), so only newline-terminated lines count.
        let text = try String(contentsOfFile: followed, encoding: .utf8)
        let streamed = text.split(separator: "\n").dropLast(text.hasSuffix("\n") ? 0 : 1)
        // More than a whole cap's worth arrived, so the stream went on across rotations;
        // every line is whole and they only go forward.
        let streamedNumbers = numbers(streamed)
        #expect(streamed.count > 1000 && streamedNumbers.count >= streamed.count - 1, "\(streamed.prefix(3))")
        #expect(zip(streamedNumbers, streamedNumbers.dropFirst()).allSatisfy { $0 < $1 })

        // --tail while running: the newest lines, consecutive.
        let tail = try await stack.muster("logs", "--tail", "3", "chatty")
        let tailNumbers = numbers(tail.output.split(separator: "\n"))
        #expect(
            tailNumbers.count == 3 && tailNumbers[1] == tailNumbers[0] + 1 && tailNumbers[2] == tailNumbers[1] + 1,
            "\(tail.output)")
        #expect((tailNumbers.first ?? 0) > (streamedNumbers.last ?? .max) - 1, "\(tail.output)")

        #expect(try await stack.muster("down").status == 0)
        #expect(diskUsage(stack) <= cap * (files + 1) + OutputPump.chunkSize)
        // Stored logs: the rotated files then the live one, read as one unbroken run.
        let all = try await stack.muster("logs", "chatty")
        let allNumbers = numbers(all.output.split(separator: "\n"))
        #expect(allNumbers.count > 100_000, "\(all.output.prefix(200))")
        // (The stop may have cut the very last line.)
        let whole = allNumbers.dropLast()
        #expect(zip(whole, whole.dropFirst()).allSatisfy { $1 == $0 + 1 }, "a line lost or cut at a rotation")
        // The stop may cut the very last line; the last whole one is the newest number.
        let last = try await stack.muster("logs", "--tail", "2", "chatty")
        #expect(numbers(last.output.split(separator: "\n")).last == allNumbers.last, "\(last.output)")
    }

    @Test func theLogStaysCappedAcrossDownAndUp() async throws {
        let stack = try TestStack(
            """
            logs: { max_size: 64KB, max_files: 1 }
            services:
              quiet:
                command: ["sh", "-c", "echo started; exec sleep 300"]
            """)
        defer { stack.cleanup() }
        let log = stack.paths.logFile(for: "quiet")
        try FileManager.default.createDirectory(atPath: stack.paths.logsDir, withIntermediateDirectories: true)
        // A log grown by an earlier run (before rotation existed), and a stale .3.
        try String(repeating: "old line\n", count: 20_000).write(toFile: log, atomically: true, encoding: .utf8)
        try "stale\n".write(toFile: log + ".3", atomically: true, encoding: .utf8)
        #expect(try await stack.muster("up", "-d").status == 0)
        #expect(await eventually { (try? String(contentsOfFile: log, encoding: .utf8))?.contains("started") == true })
        #expect(try await stack.muster("down").status == 0)
        #expect(LogFiles.all(log) == [log + ".1", log])
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "started\n")
    }
}
