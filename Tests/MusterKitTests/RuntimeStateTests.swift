import Foundation
import Testing
@testable import MusterKit

/// Runtime dirs left by supervisors that died after their project folder was deleted
/// are cleaned up; everything else is left alone.
@Suite(.serialized) struct RuntimeStateTests {
    let base = ProjectPaths.runtimeBase
    let me = ProjectPaths(directory: "/tmp/muster-runtime-test-\(getpid())", project: "me")

    /// `heldLock`: the lock is taken before the state is written and its descriptor
    /// returned, so another test's clean-up (which runs under that lock) never removes
    /// the folder in between.
    @discardableResult
    func plant(_ name: String, pid: Int32, stackFile: String, ports: [String: Int], heldLock: Bool = false) throws
        -> Int32
    {
        let dir = base + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/lock", contents: nil)
        var fd: Int32 = -1
        if heldLock {
            fd = open(dir + "/lock", O_RDWR)
            #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        }
        let state = RuntimeState(pid: pid, project: name, stackFile: stackFile, outputs: [:], ports: ports)
        try JSONEncoder().encode(state).write(to: URL(fileURLWithPath: dir + "/status.json"))
        return fd
    }

    @Test func abandonedRuntimeDirsAreRemovedAndLiveOnesCounted() throws {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let tag = "gc\(getpid())x\(Int.random(in: 0..<1_000_000))"
        let dead: Int32 = 2_147_483_000  // above any pid_max: never alive
        let existing = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag).yaml").path
        _ = FileManager.default.createFile(atPath: existing, contents: Data("services: {}\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: existing) }

        // The socket dir first: other tests scan these dirs at any moment, and a scan
        // acts once status.json is there.
        try FileManager.default.createDirectory(atPath: base + "/\(tag)gone.pg-db", withIntermediateDirectories: true)
        try plant("\(tag)gone", pid: dead, stackFile: "/nonexistent/\(tag)/muster.yaml", ports: ["db": 1111])
        try plant("\(tag)crashed", pid: dead, stackFile: existing, ports: ["db": 2222])
        try plant("\(tag)live", pid: getpid(), stackFile: "/nonexistent/\(tag)/other.yaml", ports: ["db": 3333])
        defer {
            for name in ["gone", "gone.pg-db", "crashed", "live"] {
                try? FileManager.default.removeItem(atPath: base + "/\(tag)\(name)")
            }
        }

        let ports = RuntimeState.portsOfOtherProjects(than: me)
        #expect(ports.contains(3333), "a live project's ports are avoided")
        #expect(!ports.contains(1111) && !ports.contains(2222), "a dead supervisor holds no ports")
        #expect(!FileManager.default.fileExists(atPath: base + "/\(tag)gone"), "its project is gone: removed")
        #expect(!FileManager.default.fileExists(atPath: base + "/\(tag)gone.pg-db"), "with its socket dirs")
        #expect(
            FileManager.default.fileExists(atPath: base + "/\(tag)crashed/status.json"),
            "its project still exists: kept for the next up to recover")
        #expect(
            FileManager.default.fileExists(atPath: base + "/\(tag)live/status.json"), "a live supervisor's dir stays")
    }

    @Test func aHeldLockKeepsTheDir() throws {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let name = "gc\(getpid())held\(Int.random(in: 0..<1_000_000))"
        let fd = try plant(name, pid: 2_147_483_000, stackFile: "/nonexistent/\(name).yaml", ports: [:], heldLock: true)
        defer { try? FileManager.default.removeItem(atPath: base + "/" + name) }
        // flock is per open file description: a second open of the lock conflicts.
        _ = RuntimeState.portsOfOtherProjects(than: me)
        #expect(FileManager.default.fileExists(atPath: base + "/" + name + "/status.json"))
        close(fd)
    }
}
