import Foundation
import Testing
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// `down --volumes` says "deleted data" only when the data is gone. A file it cannot
/// delete (immutable as root, in a read-only folder otherwise) makes it exit 1 with one
/// line naming that file and the system's reason; the stack is still stopped, and a
/// second `down --volumes`, once the file may go, deletes the rest.
@Suite struct DownVolumesTests {
    @Test func dataThatCannotBeDeletedIsSaidAndTheNextDownDeletesIt() async throws {
        let stack = try TestStack(
            """
            services:
              cache: { engine: redis, port: auto }
            """)
        defer { stack.cleanup() }
        #expect(try await stack.muster("up", "-d").status == 0)
        let pid = try #require(try await stack.status().services.first?.pid)

        let folder = stack.paths.dataDir + "/kept"
        let file = folder + "/stuck"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        let asRoot = getuid() == 0
        let locked = try await CLIResult.run(
            command: asRoot ? ["/usr/bin/chattr", "+i", file] : ["/bin/chmod", "0555", folder], in: "/")
        try #require(locked.status == 0, "\(locked.output)")
        let unlock = asRoot ? ["/usr/bin/chattr", "-i", file] : ["/bin/chmod", "0755", folder]
        defer { _ = system(unlock.joined(separator: " ")) }

        let down = try await stack.muster("down", "--volumes")
        #expect(down.status == 1, "\(down.output)")
        let errorLine = down.output.split(separator: "\n").first { $0.hasPrefix("error:") } ?? ""
        #expect(errorLine.contains("down --volumes could not delete \(file): "), "\(down.output)")
        #expect(
            errorLine.contains(asRoot ? "Operation not permitted" : "Permission denied"), "\(down.output)")
        #expect(!down.output.contains("deleted data"), "\(down.output)")
        #expect(!ProcessTable.isAlive(pid), "the server outlived down")
        #expect(FileManager.default.fileExists(atPath: file))

        #expect(try await CLIResult.run(command: unlock, in: "/").status == 0)
        let again = try await stack.muster("down", "--volumes")
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("deleted data in \(stack.paths.dataDir)"), "\(again.output)")
        #expect(!FileManager.default.fileExists(atPath: stack.paths.dataDir))
    }
}
