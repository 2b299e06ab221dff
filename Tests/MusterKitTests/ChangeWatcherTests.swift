import Foundation
import Testing
@testable import MusterKit

/// The file watcher on real files in a real folder, through inotify: each hard case of
/// the development loop gives exactly the batches it should.
@Suite(.serialized) struct ChangeWatcherTests {
    /// Batches and messages as they arrive.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var batches: [[String]] = []
        private var messages: [String] = []
        func add(_ batch: [String]) { lock.lock(); batches.append(batch); lock.unlock() }
        func say(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
        var all: [[String]] { lock.lock(); defer { lock.unlock() }; return batches }
        var said: [String] { lock.lock(); defer { lock.unlock() }; return messages }
    }

    struct Tree {
        let root: String
        let recorder = Recorder()
        let watcher: ChangeWatcher

        init(
            files: [String] = ["app/api.py", "app/util.py"], limit: Int? = nil, debounce: Duration = .milliseconds(50)
        ) throws {
            root = NSTemporaryDirectory() + "muster-changes-\(UInt32.random(in: 0...UInt32.max))"
            for file in files {
                let path = root + "/" + file
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try "print('v1')\n".write(toFile: path, atomically: false, encoding: .utf8)
            }
            let recorder = self.recorder
            watcher = ChangeWatcher(
                roots: [.init(folder: root, recursive: true)], debounce: debounce, simulatedLimit: limit,
                interest: { _ in true }, onMessage: { recorder.say($0) }, onBatch: { recorder.add($0) })
            watcher.start(gitignoreFolders: [root])
        }

        func write(_ file: String, _ text: String) throws {
            let path = root + "/" + file
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }

        /// Waits for at least `count` batches, then for a barrier: a file written now in
        /// `folder` (the root when nil). Notices come in order, so a stray batch of the
        /// earlier changes comes before the barrier's, or in it. Barrier files are left
        /// out of what is returned.
        func batches(atLeast count: Int, barrierIn folder: String? = nil) async -> [[String]] {
            _ = await settle { ChangeWatcherTests.withoutBarriers(recorder.all).count >= count }
            return await ChangeWatcherTests.barrier(recorder, in: folder.map { root + "/" + $0 } ?? root)
        }

        func finish() {
            watcher.stop()
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    static let barrierPrefix = "muster-test-barrier-"

    /// Writes a barrier file in `folder` (kept: removing it would be one more change),
    /// waits for the batch naming it, and returns every batch so far without barriers.
    static func barrier(_ recorder: Recorder, in folder: String) async -> [[String]] {
        let path = folder + "/" + barrierPrefix + "\(UInt32.random(in: 0...UInt32.max))"
        try? "barrier\n".write(toFile: path, atomically: false, encoding: .utf8)
        let arrived = await settle { recorder.all.contains { $0.contains(path) } }
        #expect(arrived, "the barrier \(path) was never reported")
        return withoutBarriers(recorder.all)
    }

    /// The batches without barrier files, and without batches that held nothing else.
    static func withoutBarriers(_ batches: [[String]]) -> [[String]] {
        batches.compactMap { batch in
            let rest = batch.filter { !($0 as NSString).lastPathComponent.hasPrefix(barrierPrefix) }
            return rest.isEmpty && !batch.isEmpty ? nil : rest
        }
    }

    /// Polls `condition` until it holds, for two minutes at most: what it waits for (a
    /// batch the watcher must report) comes within tens of milliseconds, but a loaded CI
    /// machine may not run the watcher's thread for seconds. A passing test waits no longer.
    static func settle(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return condition()
    }

    @Test func anEditGivesOneBatchNamingTheFile() async throws {
        let tree = try Tree()
        defer { tree.finish() }
        try tree.write("app/api.py", "print('v2')\n")
        #expect(await tree.batches(atLeast: 1) == [[tree.root + "/app/api.py"]])
    }

    @Test func anEditorRenamingANewFileOverTheOldIsOneChange() async throws {
        let tree = try Tree()
        defer { tree.finish() }
        // vim/JetBrains/VS Code style: write a scratch file, rename it over the original.
        let temporary = tree.root + "/app/api.py___jb_tmp___"
        try "print('v3')\n".write(toFile: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary, tree.root + "/app/api.py") == 0)
        #expect(await tree.batches(atLeast: 1) == [[tree.root + "/app/api.py"]])
        // The watch survives the rename: the next save is seen too.
        try tree.write("app/api.py", "print('v4')\n")
        #expect(await tree.batches(atLeast: 2).count == 2)
    }

    @Test func filesInANewSubfolderAreSeen() async throws {
        let tree = try Tree()
        defer { tree.finish() }
        try FileManager.default.createDirectory(
            atPath: tree.root + "/app/new/deeper", withIntermediateDirectories: true)
        try tree.write("app/new/deeper/handler.py", "x = 1\n")
        let batches = await tree.batches(atLeast: 1)
        #expect(batches.flatMap { $0 } == [tree.root + "/app/new/deeper/handler.py"])
        // And a later write in it.
        try tree.write("app/new/deeper/handler.py", "x = 2\n")
        #expect(await tree.batches(atLeast: 2).count == 2)
    }

    @Test func aFolderDeletedAndRecreatedIsStillWatched() async throws {
        let tree = try Tree(files: ["app/api.py", "lib/a.py"])
        defer { tree.finish() }
        try FileManager.default.removeItem(atPath: tree.root + "/lib")
        let first = await tree.batches(atLeast: 1)
        #expect(first.flatMap { $0 } == [tree.root + "/lib/a.py"])
        try tree.write("lib/a.py", "again\n")
        let second = await tree.batches(atLeast: 2)
        #expect(second.count == 2 && second.last == [tree.root + "/lib/a.py"])
    }

    @Test func aBurstOf500FilesIsOneBatch() async throws {
        // The debounce is what makes a burst one batch: a second here, so a writer slowed
        // by a loaded machine never pauses longer than it mid-burst (100 ms did, once).
        let tree = try Tree(debounce: .seconds(1))
        defer { tree.finish() }
        for index in 0..<500 { try tree.write("app/gen/m\(index).py", "n = \(index)\n") }
        let batches = await tree.batches(atLeast: 1)
        #expect(batches.count == 1)
        #expect(batches.first?.count == 500)
    }

    @Test func readsChmodAndTouchGiveNothing() async throws {
        let tree = try Tree()
        defer { tree.finish() }
        let path = tree.root + "/app/api.py"
        _ = try String(contentsOfFile: path, encoding: .utf8)
        #expect(chmod(path, 0o600) == 0)
        // touch: a new modification time, same content.
        #expect(utimes(path, nil) == 0)
        // Rewriting the same bytes is no change either.
        try tree.write("app/api.py", "print('v1')\n")
        // A scratch file written and removed within the debounce leaves nothing.
        try tree.write("app/scratch.tmp", "x")
        try FileManager.default.removeItem(atPath: tree.root + "/app/scratch.tmp")
        #expect(await tree.batches(atLeast: 0).isEmpty)
        // The watcher still works afterwards.
        try tree.write("app/api.py", "print('v2')\n")
        #expect(await tree.batches(atLeast: 1) == [[path]])
    }

    @Test func gitignoredAndVersionControlFilesGiveNothing() async throws {
        let tree = try Tree(files: ["app/api.py", ".git/HEAD", "build/out.bin"])
        defer { tree.finish() }
        try "build/\n*.log\n".write(toFile: tree.root + "/.gitignore", atomically: false, encoding: .utf8)
        // A watcher started after the .gitignore exists.
        tree.watcher.stop()
        let recorder = Recorder()
        let watcher = ChangeWatcher(
            roots: [.init(folder: tree.root, recursive: true)], debounce: .milliseconds(50),
            interest: { _ in true }, onMessage: { recorder.say($0) }, onBatch: { recorder.add($0) })
        watcher.start(gitignoreFolders: [tree.root])
        defer { watcher.stop() }
        try tree.write("build/out.bin", "new")
        try tree.write("app/debug.log", "line")
        try tree.write(".git/HEAD", "ref: other")
        try tree.write("app/api.py", "print('v9')\n")
        _ = await Self.settle { !recorder.all.isEmpty }
        #expect(await Self.barrier(recorder, in: tree.root) == [[tree.root + "/app/api.py"]])
    }

    @Test func pastTheWatchLimitFoldersArePolledAndSaidOnce() async throws {
        let tree = try Tree(files: ["a/x.py", "b/y.py", "c/z.py"], limit: 1)
        defer { tree.finish() }
        #expect(tree.recorder.said.count == 1)
        #expect(tree.recorder.said.first?.contains("fs.inotify.max_user_watches") == true)
        #expect(tree.watcher.counts.watched == 1 && tree.watcher.counts.polled == 3)
        try tree.write("c/z.py", "changed = True\n")
        // The barrier in the polled folder: a stray batch of its next look would come first.
        let batches = await tree.batches(atLeast: 1, barrierIn: "c")
        #expect(batches.flatMap { $0 } == [tree.root + "/c/z.py"])
        #expect(tree.recorder.said.count == 1)
    }

    /// 100 000 files in 1 000 folders: watching starts (one watch per folder) and an
    /// edit deep in the tree is seen. The tree lives in memory (/dev/shm) where there is
    /// one: made and deleted on this disk it stalled the Postgres of tests running beside
    /// it. Its idle CPU and start time are measured by `scripts/bench --only watch`.
    @Test func aTreeOf100000Files() async throws {
        let base = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        let root = base + "muster-bigtree-\(UInt32.random(in: 0...UInt32.max))"
        // By hand: FileManager takes minutes to remove 100 000 files.
        defer {
            for folder in 0..<1000 {
                let path = root + "/pkg\(folder / 100)/mod\(folder)"
                for file in 0..<100 { unlink(path + "/f\(file).py") }
                rmdir(path)
                if folder % 100 == 99 { rmdir(root + "/pkg\(folder / 100)") }
            }
            rmdir(root)
        }
        for folder in 0..<1000 {
            let path = root + "/pkg\(folder / 100)/mod\(folder)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for file in 0..<100 {
                let fd = open(path + "/f\(file).py", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                _ = "x = \(file)\n".withCString { write(fd, $0, strlen($0)) }
                close(fd)
            }
        }
        let recorder = Recorder()
        let watcher = ChangeWatcher(
            roots: [.init(folder: root, recursive: true)], debounce: .milliseconds(50),
            interest: { _ in true }, onMessage: { recorder.say($0) }, onBatch: { recorder.add($0) })
        watcher.start()
        defer { watcher.stop() }
        #expect(watcher.counts.watched + watcher.counts.polled == 1011)
        // Nothing happened, nothing is reported: no timer fires a batch of its own.
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.all.isEmpty, "\(recorder.all.prefix(3))")
        let deep = root + "/pkg9/mod999/f99.py"
        try "x = 'edited'\n".write(toFile: deep, atomically: false, encoding: .utf8)
        _ = await Self.settle { !recorder.all.isEmpty }
        #expect(recorder.all == [[deep]])
    }

    @Test func stopRemovesEveryWatch() throws {
        let tree = try Tree()
        defer { try? FileManager.default.removeItem(atPath: tree.root) }
        #expect(tree.watcher.counts.watched == 2)
        tree.watcher.stop()
        try tree.write("app/api.py", "print('late')\n")
        #expect(tree.recorder.all.isEmpty)
    }
}
