import Foundation
import Testing

@testable import MusterKit

/// The Postgres build's identity is what `postgres --version` prints, remembered in the
/// project's file for the next start; a changed binary is asked again.
@Suite(.serialized) struct PostgresBuildTests {
    @Test func theVersionIsRememberedPerBinaryAcrossStarts() async throws {
        let folder = NSTemporaryDirectory() + "muster-build-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let binary = folder + "/postgres"
        let runs = folder + "/runs"
        func write(_ version: String) throws {
            try "#!/bin/sh\necho run >> \(runs)\necho '\(version)'\n".write(
                toFile: binary, atomically: true, encoding: .utf8)
            chmod(binary, 0o755)
        }
        func count() -> Int {
            ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let remembered = folder + "/postgres-build.db"
        try write("postgres (PostgreSQL) 15.99")
        PostgresBuild.forget()
        #expect(await PostgresBuild.identity(of: binary, rememberedIn: [remembered]) == "postgres (PostgreSQL) 15.99")
        #expect(count() == 1)
        // A new process (nothing in memory) reads the file: the binary is not run again.
        PostgresBuild.forget()
        #expect(await PostgresBuild.identity(of: binary, rememberedIn: [remembered]) == "postgres (PostgreSQL) 15.99")
        #expect(count() == 1, "the version was asked again although the binary is the same")
        // Another binary there (another size): asked again, and the file follows it.
        try write("postgres (PostgreSQL) 16.0 (another build)")
        PostgresBuild.forget()
        #expect(
            await PostgresBuild.identity(of: binary, rememberedIn: [remembered])
                == "postgres (PostgreSQL) 16.0 (another build)")
        #expect(count() == 2)
        PostgresBuild.forget()
        #expect(
            await PostgresBuild.identity(of: binary, rememberedIn: [remembered])
                == "postgres (PostgreSQL) 16.0 (another build)")
        #expect(count() == 2)
        // Without a file: asked once per process, as before.
        PostgresBuild.forget()
        _ = await PostgresBuild.identity(of: binary)
        #expect(count() == 3)
    }

    /// A new project on a machine that knows the binary (the machine's file beside the
    /// templates) does not run it; the project's file learns it from the machine's.
    @Test func aNewProjectLearnsTheVersionFromTheMachine() async throws {
        let folder = NSTemporaryDirectory() + "muster-build-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let binary = folder + "/postgres"
        let runs = folder + "/runs"
        try "#!/bin/sh\necho run >> \(runs)\necho 'postgres (PostgreSQL) 15.98'\n".write(
            toFile: binary, atomically: true, encoding: .utf8)
        chmod(binary, 0o755)
        func count() -> Int {
            ((try? String(contentsOfFile: runs, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        let machine = PostgresBuild.machineFile(
            for: binary, environment: ["MUSTER_TEMPLATE_DIR": folder + "/templates"])
        #expect(machine.hasPrefix(folder + "/templates/"))
        PostgresBuild.forget()
        #expect(
            await PostgresBuild.identity(of: binary, rememberedIn: [folder + "/one/build", machine])
                == "postgres (PostgreSQL) 15.98")
        #expect(count() == 1)
        #expect(FileManager.default.fileExists(atPath: machine), "the machine's file was not written")
        // Another project, nothing in memory: the machine answers, and the project learns it.
        PostgresBuild.forget()
        let other = folder + "/two/build"
        #expect(
            await PostgresBuild.identity(of: binary, rememberedIn: [other, machine]) == "postgres (PostgreSQL) 15.98")
        #expect(count() == 1, "the version was asked again although the machine knew it")
        #expect((try? String(contentsOfFile: other, encoding: .utf8))?.hasSuffix("15.98") == true)
    }
}
