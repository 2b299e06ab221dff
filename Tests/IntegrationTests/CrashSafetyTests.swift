import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A separate `muster up` process, SIGKILLed: its services must die with it.
@Suite(.serialized) struct CrashSafetyTests {
    @Test func sigkillOfMusterLeavesNoChild() async throws {
        let binary = TestStack.binary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build muster first: \(binary)")
        let stack = try TestStack(
            """
            services:
              tree:
                command: "sleep 300 & echo $! > tree-pids; sleep 300 & echo $! >> tree-pids; echo $$$$ >> tree-pids; wait"
              plain:
                command: ["sleep", "300"]
                ready: { exec: "test -s tree-pids" }
            """)
        let muster = try await CLIResult.spawn(
            [binary, "up", "-f", stack.file], in: stack.directory,
            output: stack.directory + "/muster.out")
        let started = await eventually(within: .seconds(20)) {
            let text = (try? String(contentsOfFile: stack.directory + "/muster.out", encoding: .utf8)) ?? ""
            return text.contains("all 2 services up")
        }
        #expect(started)
        let pids = readPids(stack.directory + "/tree-pids")
        #expect(pids.count == 3)
        #expect(pids.allSatisfy(ProcessTable.isAlive))
        let plainPid = ProcessTable.allPids().first { pid in
            ProcessTable.entry(pid)?.ppid == muster && ProcessTable.commandLine(pid) == "sleep 300"
        }
        kill(muster, SIGKILL)
        _ = await ProcessReaper.shared.exitStatus(of: muster)
        ProcessReaper.shared.forget(muster)
        let allGone = await eventually(within: .seconds(10)) {
            !(pids + [plainPid].compactMap { $0 }).contains(where: ProcessTable.isAlive)
        }
        #expect(allGone, "services outlived a SIGKILLed muster: \(pids.filter(ProcessTable.isAlive))")
        stack.cleanup()
    }

    @Test func secondForegroundUpIsRefused() async throws {
        let stack = try TestStack(
            """
            services:
              idle:
                command: "sleep 60"
            """)
        try await stack.start()
        do {
            _ = try StackSession(stack: try stack.load(), options: .init(console: nil))
            Issue.record("a second supervisor was allowed")
        } catch let error as MusterError {
            #expect(error.code == .alreadyRunning)
        }
        await stack.finish()
    }
}
