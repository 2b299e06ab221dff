import Foundation
import Testing

@testable import MusterKit

/// Folders full of new files get names of their own in marked folders, and what a dead
/// process left half-made is swept (FolderPlacement).
@Suite struct FolderPlacementTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "muster-placement-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aMarkedFolderSpreadsItsSubfoldersWhereTheFileSystemCan() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ext4 = FolderPlacement.onExtFileSystem(folder)
        let before = FolderPlacement.spreadsSubfolders(folder)
        FolderPlacement.spreadSubfolders(of: folder)
        if ext4 {
            #expect(before == false)
            #expect(FolderPlacement.spreadsSubfolders(folder) == true)
            // Marking again changes nothing and does not fail.
            FolderPlacement.spreadSubfolders(of: folder)
            #expect(FolderPlacement.spreadsSubfolders(folder) == true)
        } else {
            #expect(FolderPlacement.spreadsSubfolders(folder) == before, "a file system without the flag kept it")
        }
        FolderPlacement.spreadSubfolders(of: folder + "/missing")  // best effort: no crash, nothing made
        #expect(!FileManager.default.fileExists(atPath: folder + "/missing"))
    }

    @Test func stagingNamesAreUniqueAndADeadProcessesLeftoversAreSwept() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let destination = folder + "/db"
        let names = (0..<50).map { _ in FolderPlacement.staging(for: destination, "copying") }
        #expect(Set(names).count == 50)
        #expect(names.allSatisfy { $0.hasPrefix(destination + ".copying-\(getpid())-") })
        // A pid that is surely gone (the kernel's limit is below 2^22), this process, another
        // live process (pid 1), another kind of staging, and the destination itself.
        let dead = destination + ".copying-4194999-7"
        let mine = FolderPlacement.staging(for: destination, "copying")
        let live = destination + ".copying-1-3"
        let initdb = destination + ".initdb-4194999-1"
        for made in [dead, mine, live, initdb, destination] {
            try FileManager.default.createDirectory(atPath: made + "/base", withIntermediateDirectories: true)
        }
        FolderPlacement.sweepStaging(for: destination, "copying")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder).map { folder + "/" + $0 })
        #expect(left == [mine, live, initdb, destination])
    }

    @Test func aTreeIsGivenToItsOwnerWithoutFollowingLinks() throws {
        let folder = try Self.folder()
        let outside = try Self.folder()
        defer { for made in [folder, outside] { try? FileManager.default.removeItem(atPath: made) } }
        try FileManager.default.createDirectory(atPath: folder + "/base/16384", withIntermediateDirectories: true)
        for file in ["/PG_VERSION", "/base/16384/1259", "/base/16384/1259_fsm"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: folder + file))
        }
        try Data("x".utf8).write(to: URL(fileURLWithPath: outside + "/target"))
        symlink(outside + "/target", folder + "/base/link")
        func owners(_ path: String) -> (uid_t, gid_t) {
            var info = stat()
            lstat(path, &info)
            return (info.st_uid, info.st_gid)
        }
        let inside = [
            "", "/base", "/base/16384", "/PG_VERSION", "/base/16384/1259", "/base/16384/1259_fsm", "/base/link",
        ]
        // Already owned so: nothing to change, and it says so.
        #expect(TreeOwner.give(folder, uid: getuid(), gid: getgid()))
        guard getuid() == 0 else {
            // Only root gives files away: refused, and it says so.
            #expect(!TreeOwner.give(folder, uid: getuid() + 1, gid: getgid()))
            return
        }
        #expect(TreeOwner.give(folder, uid: 65534, gid: 65534))
        for path in inside {
            let (uid, gid) = owners(folder + path)
            #expect(uid == 65534 && gid == 65534, "\(path) is \(uid):\(gid)")
        }
        #expect(owners(outside + "/target").0 == 0, "the link was followed out of the tree")
        #expect(!TreeOwner.give(folder + "/missing", uid: 65534, gid: 65534))
    }
}
