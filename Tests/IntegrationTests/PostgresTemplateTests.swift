import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// New Postgres clusters copied from a cached template instead of made by initdb.
/// Each test has a template cache of its own (`MUSTER_TEMPLATE_DIR`), so damaging one
/// never reaches another test, and runs muster as a separate process.
@Suite struct PostgresTemplateTests {
    static func stack(_ name: String = #function) throws -> TestStack {
        try TestStack(
            """
            services:
              db: { engine: postgres, port: auto, databases: [shop], user: shop, password: "s3cret" }
            """, name: name)
    }

    static func cache() throws -> String {
        let path = NSTemporaryDirectory() + "muster-tests/templates-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if getuid() == 0, let postgres = getpwnam("postgres")?.pointee { chown(path, postgres.pw_uid, postgres.pw_gid) }
        return path
    }

    static func muster(
        _ stack: TestStack, _ arguments: [String], cache: String?, noTemplate: Bool = false,
        spares: Int? = nil
    ) async throws -> CLIResult {
        try await CLIResult.run(
            command: [TestStack.binary] + arguments, in: stack.directory,
            environment: [
                "MUSTER_TEMPLATE_DIR": cache, "MUSTER_NO_TEMPLATE": noTemplate ? "1" : nil,
                "MUSTER_TEMPLATE_SPARES": spares.map(String.init),
            ])
    }

    /// The spare clusters of the cache's one template, by name.
    static func spares(in cache: String) -> [String] {
        guard let key = templates(in: cache).first else { return [] }
        let folder = TemplateSpares.folder(of: cache + "/" + key)
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("spare-") }
            .map { folder + "/" + $0 }
    }

    /// Waits (up to a minute: spares are copied at the lowest priority) for a spare.
    static func waitForSpare(in cache: String) async throws -> String {
        for _ in 0..<600 {
            if let spare = spares(in: cache).first { return spare }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("no spare cluster was made within a minute")
        throw CancellationError()
    }

    static func inode(_ path: String) -> UInt {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_ino) : 0
    }

    /// Over TCP with the stack's own user and password, as an app would connect.
    static func connect(_ stack: TestStack) async throws -> PostgresConnection {
        let env = try await stack.env()
        let url = try #require(env["DB_URL"])
        let components = try #require(URLComponents(string: url))
        return try PostgresConnection(
            "host=127.0.0.1 port=\(components.port ?? 0) user=shop password=s3cret dbname=shop connect_timeout=5")
    }

    static func templates(in cache: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { !$0.contains(".") }
    }

    @Test func aClusterCopiedFromTheTemplateServesTheStackAndKeepsItsData() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try Self.stack()
        let second = try Self.stack("second")
        defer { first.cleanup(); second.cleanup() }

        #expect(try await Self.muster(first, ["up", "-d"], cache: cache).status == 0)
        #expect(Self.templates(in: cache).count == 1, "the first cluster makes the template")
        // On ext4 the folders clusters are made in spread their subfolders (FolderPlacement),
        // and no staging folder is left beside the cluster.
        let dataFolder = (first.paths.dataDir(for: "db") as NSString).deletingLastPathComponent
        for folder in [cache, dataFolder] where FolderPlacement.onExtFileSystem(folder) {
            #expect(FolderPlacement.spreadsSubfolders(folder) == true, "\(folder) is not marked")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dataFolder) == ["db"])
        // The template is sparse: its WAL segment (16 MB, mostly zeros) holds far fewer blocks than bytes.
        let wal = cache + "/" + Self.templates(in: cache)[0] + "/pg_wal"
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: wal).first { $0.count == 24 })
        var info = stat()
        #expect(
            stat(wal + "/" + segment, &info) == 0 && Int(info.st_blocks) * 512 < Int(info.st_size) / 2,
            "\(info.st_blocks) blocks")
        let db = try await Self.connect(first)
        try db.query("CREATE TABLE orders (id int PRIMARY KEY, item text)")
        try db.query("INSERT INTO orders VALUES (1, 'kept across down and up')")
        let firstIdentifier = try db.value("SELECT system_identifier FROM pg_control_system()")

        #expect(try await Self.muster(second, ["up", "-d"], cache: cache).status == 0)
        #expect(Self.templates(in: cache).count == 1, "the second cluster reuses the template")
        let other = try await Self.connect(second)
        // Copied, not made by initdb (which picks a new system identifier each time) ...
        #expect(try other.value("SELECT system_identifier FROM pg_control_system()") == firstIdentifier)
        // ... and independent: the first cluster's table is not in the second.
        #expect(try other.value("SELECT to_regclass('public.orders') IS NULL") == "t")
        try other.query("CREATE TABLE orders (id int)")
        #expect(try db.value("SELECT count(*) FROM orders") == "1")
        // Writes fill the holes of the copied WAL and relation files like any zeros.
        try other.query("INSERT INTO orders SELECT generate_series(1, 50000)")
        #expect(try other.value("SELECT count(*) FROM orders") == "50000")

        #expect(try await Self.muster(first, ["down"], cache: cache).status == 0)
        #expect(try await Self.muster(first, ["up", "-d"], cache: cache).status == 0)
        #expect(
            try await Self.connect(first).value("SELECT item FROM orders WHERE id = 1") == "kept across down and up")
        #expect(try await Self.muster(first, ["down"], cache: cache).status == 0)
        #expect(try await Self.muster(second, ["down"], cache: cache).status == 0)
    }

    @Test func aDamagedTemplateIsMadeAgainNeverCopied() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try Self.stack()
        let second = try Self.stack("damaged")
        defer { first.cleanup(); second.cleanup() }
        // No spares: the next cluster must come from the template itself.
        #expect(try await Self.muster(first, ["up", "-d"], cache: cache, spares: 0).status == 0)
        #expect(try await Self.muster(first, ["down"], cache: cache, spares: 0).status == 0)
        let key = try #require(Self.templates(in: cache).first)
        #expect(
            !FileManager.default.fileExists(atPath: TemplateSpares.folder(of: cache + "/" + key)),
            "MUSTER_TEMPLATE_SPARES=0 makes no spare")
        let template = cache + "/" + key
        let identifier = try String(contentsOfFile: template + ".manifest", encoding: .utf8)
        // Damage it: one file of the catalog loses its contents.
        let catalog = try #require(
            FileManager.default.subpaths(atPath: template + "/base")?.first { $0.hasSuffix("/1259") })
        try Data().write(to: URL(fileURLWithPath: template + "/base/" + catalog))

        #expect(try await Self.muster(second, ["up", "-d"], cache: cache, spares: 0).status == 0)
        let log = try String(contentsOfFile: second.paths.logFile(for: "db"), encoding: .utf8)
        #expect(log.contains("damaged or outdated; making it again"), "\(log)")
        #expect(TemplateManifest.matches(template), "the template was made again")
        #expect(try await Self.connect(second).value("SELECT 1") == "1")
        #expect(identifier != (try String(contentsOfFile: template + ".manifest", encoding: .utf8)))
        #expect(try await Self.muster(second, ["down"], cache: cache, spares: 0).status == 0)
    }

    /// A stack brought down right after `up -d` (before its supervisor could make the
    /// spare it owes in the background) makes it while it stops: the next cold start
    /// takes it by rename, in a new project and after `down --volumes`.
    @Test func aStackStoppedRightAfterUpLeavesTheSpareItOwes() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try Self.stack()
        let second = try Self.stack("next")
        defer { first.cleanup(); second.cleanup() }
        var left: UInt?  // the inode of the spare the previous stop left
        for (round, stack) in [first, second, second].enumerated() {
            #expect(try await Self.muster(stack, ["up", "-d"], cache: cache).status == 0)
            if let left {
                #expect(Self.inode(stack.paths.dataDir(for: "db")) == left, "round \(round): not the spare left")
            }
            let down = try await Self.muster(stack, round == 1 ? ["down", "--volumes"] : ["down"], cache: cache)
            #expect(down.status == 0, "\(down.output)")
            let spares = Self.spares(in: cache)
            #expect(spares.count == 1, "round \(round): \(spares)")
            left = spares.first.map(Self.inode)
            let folder = TemplateSpares.folder(of: cache + "/" + (Self.templates(in: cache).first ?? ""))
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            #expect(names.allSatisfy { $0.hasPrefix("spare-") }, "a half-made spare stayed: \(names)")
            let running = ProcessTable.allPids().filter { ProcessTable.commandLine($0)?.contains(cache) == true }
            #expect(running.isEmpty, "left running: \(running.compactMap(ProcessTable.commandLine))")
        }
    }

    @Test func aSpareClusterIsTakenByRenameAndADamagedOneIsNeverStarted() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try Self.stack()
        let second = try Self.stack("spare")
        let third = try Self.stack("damaged-spare")
        defer { first.cleanup(); second.cleanup(); third.cleanup() }

        // The first cluster is copied from the template; once the stack is up, a spare is made.
        #expect(try await Self.muster(first, ["up", "-d"], cache: cache).status == 0)
        let spare = try await Self.waitForSpare(in: cache)
        let spareInode = Self.inode(spare)
        #expect(try await Self.muster(first, ["down"], cache: cache).status == 0)

        // The next cluster is that spare, renamed into place (same inode), and it serves.
        #expect(try await Self.muster(second, ["up", "-d"], cache: cache).status == 0)
        #expect(Self.inode(second.paths.dataDir(for: "db")) == spareInode, "the new cluster is the spare, not a copy")
        #expect(!Self.spares(in: cache).contains(spare))
        let db = try await Self.connect(second)
        try db.query("CREATE TABLE t (id int)")
        #expect(try db.value("SELECT count(*) FROM t") == "0")

        // A damaged spare (a catalog file removed after it was published, as a cache
        // cleaner would) is deleted and never started.
        let damaged = try await Self.waitForSpare(in: cache)
        #expect(try await Self.muster(second, ["down"], cache: cache).status == 0)
        let catalog = try #require(
            FileManager.default.subpaths(atPath: damaged + "/base")?.first { $0.hasSuffix("/1259") })
        try FileManager.default.removeItem(atPath: damaged + "/base/" + catalog)
        #expect(try await Self.muster(third, ["up", "-d"], cache: cache).status == 0)
        let log = try String(contentsOfFile: third.paths.logFile(for: "db"), encoding: .utf8)
        #expect(log.contains("was damaged; deleted it"), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: damaged))
        // Not the damaged copy (an inode number may be reused once it is deleted): its catalog is whole.
        let catalogSize =
            (try? FileManager.default.attributesOfItem(atPath: third.paths.dataDir(for: "db") + "/base/" + catalog))?[
                .size] as? Int
        #expect((catalogSize ?? 0) > 0, "the third cluster has no pg_class: the damaged spare was started")
        #expect(try await Self.connect(third).value("SELECT to_regclass('public.t') IS NULL") == "t")
        #expect(try await Self.muster(third, ["down"], cache: cache).status == 0)
        // Stopping the stack ends a spare being made: no half-made folder stays behind.
        let folder = TemplateSpares.folder(of: cache + "/" + (Self.templates(in: cache).first ?? ""))
        #expect(
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).allSatisfy { $0.hasPrefix("spare-") }
        )
    }

    /// A published spare whose `pg_control` changed is refused when taken (the take
    /// checks its checksum, not only its names), deleted, and the stack starts from a
    /// copy of the template.
    @Test func aSpareWithAnAlteredControlFileIsDeletedNeverStarted() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let first = try Self.stack()
        let second = try Self.stack("altered-control")
        defer { first.cleanup(); second.cleanup() }
        #expect(try await Self.muster(first, ["up", "-d"], cache: cache).status == 0)
        let spare = try await Self.waitForSpare(in: cache)
        #expect(try await Self.muster(first, ["down"], cache: cache).status == 0)
        #expect(Self.spares(in: cache) == [spare], "one spare, the one to damage")

        // One byte of the control file flipped; its size and every name stay the same.
        let control = spare + "/global/pg_control"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: control))
        bytes[16] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: control))
        #expect(try await Self.muster(second, ["up", "-d"], cache: cache).status == 0)
        let log = try String(contentsOfFile: second.paths.logFile(for: "db"), encoding: .utf8)
        #expect(log.contains("was damaged; deleted it"), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: spare))
        #expect(try await Self.connect(second).value("SELECT 1") == "1")
        #expect(try await Self.muster(second, ["down"], cache: cache).status == 0)
    }

    /// /dev/shm (tmpfs) is another file system than the test projects' folder.
    static let otherFileSystem: Bool =
        TemplateSpares.renameWorks(from: "/dev/shm", to: NSTemporaryDirectory() + "x") == false
        && FileManager.default.isWritableFile(atPath: "/dev/shm")

    @Test(.enabled(if: otherFileSystem, "no writable /dev/shm on another file system than the temp folder"))
    func noSparesWhereARenameCannotReachTheProject() async throws {
        let cache = "/dev/shm/muster-tests-templates-\(UInt32.random(in: 0...UInt32.max))"
        let stack = try Self.stack()
        defer { stack.cleanup(); try? FileManager.default.removeItem(atPath: cache) }
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        if getuid() == 0, let postgres = getpwnam("postgres")?.pointee {
            chown(cache, postgres.pw_uid, postgres.pw_gid)
        }
        #expect(!TemplateSpares.renameWorks(from: cache, to: stack.directory + "/data"))
        #expect(try await Self.muster(stack, ["up", "-d"], cache: cache).status == 0)
        #expect(try await Self.connect(stack).value("SELECT 1") == "1")
        #expect(try await Self.muster(stack, ["down"], cache: cache).status == 0)
        let key = try #require(Self.templates(in: cache).first)
        #expect(
            !FileManager.default.fileExists(atPath: TemplateSpares.folder(of: cache + "/" + key)), "no spare is made")
    }

    @Test func noTemplateRunsInitdbForEachCluster() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let stack = try Self.stack()
        defer { stack.cleanup() }
        #expect(try await Self.muster(stack, ["up", "-d"], cache: cache, noTemplate: true).status == 0)
        #expect(Self.templates(in: cache).isEmpty, "MUSTER_NO_TEMPLATE=1 makes no template")
        #expect(try await Self.connect(stack).value("SELECT 1") == "1")
        #expect(try await Self.muster(stack, ["down"], cache: cache).status == 0)

        let off = try TestStack(
            """
            services:
              db: { engine: postgres, port: auto, template: false }
            """)
        defer { off.cleanup() }
        #expect(try await Self.muster(off, ["up", "-d"], cache: cache).status == 0)
        #expect(Self.templates(in: cache).isEmpty, "template: false makes no template")
        #expect(try await Self.muster(off, ["down"], cache: cache).status == 0)
    }

    /// A key nobody used for an hour goes once a start puts the cache over its limit:
    /// after the stack is up (the walk that weighs the cache does not run beside the
    /// start), and never the key the start used.
    @Test func aStartPrunesTheCacheOnceItIsUp() async throws {
        let cache = try Self.cache()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let stack = try Self.stack()
        defer { stack.cleanup() }
        let stale = cache + "/00000000000000aa"
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 2 << 20).write(to: URL(fileURLWithPath: stale + "/base"))
        _ = FileManager.default.createFile(atPath: stale + ".lock", contents: nil)
        var hourAgo = [timeval(tv_sec: time(nil) - 3600, tv_usec: 0), timeval(tv_sec: time(nil) - 3600, tv_usec: 0)]
        utimes(stale + ".lock", &hourAgo)
        let up = try await CLIResult.run(
            command: [TestStack.binary, "up", "-d"], in: stack.directory,
            environment: ["MUSTER_TEMPLATE_DIR": cache, "MUSTER_TEMPLATE_CACHE_LIMIT": "1MB"])
        #expect(up.status == 0, "\(up.output)")
        var gone = false
        for _ in 0..<300 where !gone {
            gone = !FileManager.default.fileExists(atPath: stale + ".lock")
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone, "the stale key is still in the cache: \(Self.templates(in: cache))")
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(Self.templates(in: cache).count == 1, "the key this start used stays")
        #expect(try await Self.connect(stack).value("SELECT 1") == "1")
        #expect(try await Self.muster(stack, ["down"], cache: cache).status == 0)
    }
}
