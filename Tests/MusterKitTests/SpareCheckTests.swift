import Foundation
import Testing
@testable import MusterKit

/// What taking a spare cluster checks (`SpareCheck`): its names against the template's
/// manifest, and its `pg_control`. Real folders shaped like a cluster, no Postgres (the
/// integration tests start one from a spare and refuse damaged ones).
@Suite struct SpareCheckTests {
    /// A template (with its manifest, as `TemplateManifest` writes it) and a copy of it.
    func templateAndCopy() throws -> (template: String, copy: String) {
        let root = NSTemporaryDirectory() + "muster-spare-check-\(UInt32.random(in: 0...UInt32.max))"
        let template = root + "/KEY"
        let fm = FileManager.default
        for folder in ["global", "base/1", "base/5", "pg_wal/archive_status", "pg_notify"] {
            try fm.createDirectory(atPath: template + "/" + folder, withIntermediateDirectories: true)
        }
        try Data("15\n".utf8).write(to: URL(fileURLWithPath: template + "/PG_VERSION"))
        try Data((0..<8192).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: template + "/global/pg_control"))
        for file in ["base/1/1259", "base/5/1259", "base/5/1259_fsm", "global/1262", "with space"] {
            try Data(repeating: 1, count: 100).write(to: URL(fileURLWithPath: template + "/" + file))
        }
        let manifest = try #require(TemplateManifest.describe(template))
        try manifest.write(toFile: TemplateManifest.path(for: template), atomically: true, encoding: .utf8)
        try fm.copyItem(atPath: template, toPath: root + "/copy")
        return (template, root + "/copy")
    }

    func remove(_ pair: (template: String, copy: String)) {
        try? FileManager.default.removeItem(atPath: (pair.template as NSString).deletingLastPathComponent)
    }

    @Test func aWholeCopyPasses() throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        #expect(SpareCheck.passes(pair.copy, manifestOf: pair.template))
        #expect(TemplateManifest.matches(pair.copy, manifestOf: pair.template))
    }

    @Test(arguments: ["base/5/1259", "base/1", "PG_VERSION", "with space", "pg_wal/archive_status"])
    func aRemovedFileOrFolderIsCaught(_ path: String) throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        try FileManager.default.removeItem(atPath: pair.copy + "/" + path)
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
    }

    @Test func anAddedOrRenamedFileIsCaught() throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        try Data().write(to: URL(fileURLWithPath: pair.copy + "/base/5/9999"))
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
        try FileManager.default.removeItem(atPath: pair.copy + "/base/5/9999")
        try FileManager.default.moveItem(atPath: pair.copy + "/base/5/1259", toPath: pair.copy + "/base/5/1260")
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
    }

    @Test func anAlteredControlFileIsCaught() throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        let control = URL(fileURLWithPath: pair.copy + "/global/pg_control")
        var bytes = try Data(contentsOf: control)
        bytes[16] ^= 0xff
        try bytes.write(to: control)
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
    }

    /// No manifest, or one that is not a manifest: nothing passes.
    @Test func noUsableManifestPassesNothing() throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        try "not a manifest\n".write(
            toFile: TemplateManifest.path(for: pair.template), atomically: true, encoding: .utf8)
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
        try FileManager.default.removeItem(atPath: TemplateManifest.path(for: pair.template))
        #expect(!SpareCheck.passes(pair.copy, manifestOf: pair.template))
    }

    /// The documented limit: a size changed in place is for the full check a spare
    /// passes before it is published, not for the take.
    @Test func aFileResizedInPlaceIsLeftToTheFullCheck() throws {
        let pair = try templateAndCopy()
        defer { remove(pair) }
        try Data().write(to: URL(fileURLWithPath: pair.copy + "/base/5/1259"))
        #expect(SpareCheck.passes(pair.copy, manifestOf: pair.template))
        #expect(!TemplateManifest.matches(pair.copy, manifestOf: pair.template))
    }
}
