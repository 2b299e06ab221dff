import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `watch` and `events -f` stream live through the control API (chunked HTTP on the
/// unix socket) and end when the supervisor goes away.
@Suite(.serialized) struct WatchTests {
    @Test func watchAndFollowSeeALiveRestart() async throws {
        let stack = try TestStack(
            """
            services:
              worker:
                command: "echo up; exec sleep 300"
                ready: { log: up }
                restart: on-failure
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let pid = try #require(try await stack.status().services.first?.pid)

        // Both followers run as separate muster processes, writing to files.
        func follow(_ arguments: [String], into name: String) async throws -> pid_t {
            try await CLIResult.spawn(
                [TestStack.binary] + arguments, in: stack.directory, output: stack.directory + "/" + name)
        }
        let watcher = try await follow(["watch"], into: "watch.out")
        let follower = try await follow(["events", "-f", "--json"], into: "events.out")
        func read(_ name: String) -> String {
            (try? String(contentsOfFile: stack.directory + "/" + name, encoding: .utf8)) ?? ""
        }
        #expect(await eventually { read("watch.out").contains("watching") && read("events.out").contains("\"ready\"") })

        kill(pid, SIGKILL)
        #expect(
            await eventually { read("watch.out").contains("worker restarted (killed by SIGKILL") },
            "watch did not show the restart: \(read("watch.out"))")
        #expect(await eventually { read("events.out").contains("\"type\":\"restarted\"") })
        // The JSON lines parse and keep their order.
        let seqs = read("events.out").split(separator: "\n").compactMap { ServiceEvent.parse(String($0))?.seq }
        #expect(seqs == seqs.sorted() && !seqs.isEmpty)

        // The stored log: --fail-on-restart sees the restart; --since filters; bad input is exit 2.
        #expect(try await stack.muster("events", "--fail-on-restart").status == 3)
        let recent = try await stack.muster("events", "--since", "1h", "--json")
        #expect(recent.status == 0 && recent.output.contains("\"restarted\""))
        let future = try await stack.muster("events", "--since", "2999-01-01T00:00:00Z")
        #expect(future.status == 0 && future.output.isEmpty)
        #expect(try await stack.muster("events", "--since", "yesterday-ish").status == 2)

        // down ends both streams, and both exit.
        #expect(try await stack.muster("down").status == 0)
        for process in [watcher, follower] {
            let status = await ProcessReaper.shared.exitStatus(of: process)
            ProcessReaper.shared.forget(process)
            #expect(status == .exited(0), "a follower ended with \(status)")
        }
    }
}
