import CMusterShims
import Foundation

/// Where on disk a folder that muster fills with a thousand files lands, and why.
///
/// ext4 without a journal (this project's machines and their CI) does not hand out an
/// inode freed in the last minute (five while its inode table block is unwritten):
/// every new file's inode search walks past each such inode of its folder's block
/// group. After `down --volumes` deleted a cluster, the next cluster made beside it
/// paid for it on each of its files: copying a 48 MB cluster of 1 800 files took
/// 170–600 ms there, against 50–80 ms in a group with no recent deletion (measured).
///
/// ext4 puts a new folder in its parent's group, except in a folder marked as a top
/// folder (`FS_TOPDIR_FL`, what `chattr +T` sets): there it picks a lightly used group,
/// the search starting from a hash of the new folder's name. So muster marks the
/// folders its clusters are made in (`spreadSubfolders`), and fills each new cluster
/// under a name of its own (`staging`), renamed into place when whole: each new cluster
/// then lands in a group of its own, away from the ones just deleted. A fixed name
/// would hash to the same group every time, the one the last deletion emptied.
///
/// Elsewhere the mark is refused (other file systems: nothing changes) or only spreads
/// folders (ext4 with a journal, which reuses inodes at once).
enum FolderPlacement {
    /// Marks `folder` so that folders made directly in it are spread. Best effort.
    static func spreadSubfolders(of folder: String) {
        _ = muster_spread_subfolders(folder)
    }

    /// Whether `folder` is marked; nil when the file system cannot say.
    static func spreadsSubfolders(_ folder: String) -> Bool? {
        switch muster_subfolders_spread(folder) {
        case 1: return true
        case 0: return false
        default: return nil
        }
    }

    /// Whether `path` is on ext2, 3 or 4, where folders can be marked.
    static func onExtFileSystem(_ path: String) -> Bool { muster_on_ext_file_system(path) == 1 }

    /// A name beside `destination` no other process or attempt uses, to fill and then
    /// rename into place: `destination.WHAT-PID-RANDOM`.
    static func staging(for destination: String, _ what: String) -> String {
        "\(destination).\(what)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Removes what `staging` named for `destination` and left behind a process that is
    /// gone (a supervisor killed mid-copy); a live process's folder is left alone.
    static func sweepStaging(for destination: String, _ what: String) {
        let folder = (destination as NSString).deletingLastPathComponent
        let prefix = (destination as NSString).lastPathComponent + "." + what + "-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), pid > 0, pid != getpid(),
                !ProcessTable.isAlive(pid)
            else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}

/// Who owns a copied tree (a cluster muster copied as root, for the `postgres` user).
enum TreeOwner {
    /// Gives everything under `path` (links not followed) to `uid`:`gid`, changing only
    /// what another owns: `cp -a` as root keeps the owner of a cache made for that user,
    /// and `chown -R` changed each of 2 800 files again (9 ms of a cache hit). False when
    /// something could not be read or changed. Blocking: run it off the cooperative pool.
    static func give(_ path: String, uid: uid_t, gid: gid_t) -> Bool {
        muster_own_tree(path, uid, gid) == 0
    }
}
