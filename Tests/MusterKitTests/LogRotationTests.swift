import Foundation
import Testing
@testable import MusterKit

/// Size-capped service logs, and reading and following them across rotations.
@Suite struct LogRotationTests {
    final class Folder {
        let path = NSTemporaryDirectory() + "muster-logrot-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1
    }

    private func write(_ log: RotatingLog, _ text: String) {
        var copy = text
        copy.withUTF8 { log.write(UnsafeRawBufferPointer($0)) }
    }

    @Test func sizesParseAsPeopleWriteThem() {
        #expect(ByteSize.parse("64MB") == 64 << 20)
        #expect(ByteSize.parse("512KB") == 512 << 10)
        #expect(ByteSize.parse("1GB") == 1 << 30)
        #expect(ByteSize.parse("10m") == 10 << 20)  // compose's max-size
        #expect(ByteSize.parse("1.5k") == 1536)
        #expect(ByteSize.parse("4096") == 4096)
        #expect(ByteSize.parse("64 potatoes") == nil)
        #expect(ByteSize.parse("MB") == nil)
        #expect(ByteSize.parse("-1MB") == nil)
        #expect(ByteSize.format(64 << 20) == "64MB")
        #expect(ByteSize.format(1536) == "1536B")
    }

    @Test func stackAndServiceSettingsMergeFieldByField() throws {
        let folder = try Folder()
        let stack = try StackLoader.parse(
            yaml: """
                logs: { max_size: 10MB, max_files: 5 }
                services:
                  a: { command: sleep 1, logs: { max_size: 1MB } }
                  b: { command: sleep 1 }
                """, file: "muster.yaml", directory: folder.path, environment: [:])
        let a = try #require(stack.service(named: "a")), b = try #require(stack.service(named: "b"))
        #expect(a.logs.resolved(over: stack.logs) == (1 << 20, 5))
        #expect(b.logs.resolved(over: stack.logs) == (10 << 20, 5))
        #expect(LogSettings().resolved(over: LogSettings()) == (64 << 20, 3))
    }

    @Test func badSizesNameFileLineAndColumn() throws {
        let folder = try Folder()
        do {
            _ = try StackLoader.parse(
                yaml: "services:\n  a:\n    command: sleep 1\n    logs: { max_size: 12 parsecs }\n",
                file: "muster.yaml", directory: folder.path, environment: [:])
            Issue.record("a bad size was accepted")
        } catch let error as MusterError {
            #expect(
                error.headline
                    == "muster.yaml:4:23: service a.logs.max_size must be a size such as 64MB, 512KB or 1GB, not \"12 parsecs\""
            )
        }
    }

    @Test func rotatesByBytesAndKeepsAtMostMaxFiles() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        let log = RotatingLog(path: path, limit: LogLimit(maxSize: 1000, maxFiles: 2))
        let line = String(repeating: "x", count: 99) + "\n"
        for _ in 0..<100 { write(log, line) }  // 10 000 bytes through a 1000-byte cap
        #expect(size(path) == 1000)
        #expect(size(path + ".1") == 1000)
        #expect(size(path + ".2") == 1000)
        #expect(!FileManager.default.fileExists(atPath: path + ".3"))
        #expect(LogFiles.all(path) == [path + ".2", path + ".1", path])
        // The descriptor number survives rotation (helper programs write to it).
        let fd = log.fd
        write(log, line)
        #expect(log.fd == fd && size(path) == 100)
    }

    @Test func aLineCutByAWriteEndsInTheFileItStartedIn() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        let log = RotatingLog(path: path, limit: LogLimit(maxSize: 10, maxFiles: 1))
        write(log, "abcdef")  // a line still being written
        write(log, "ghij\nklm\n")
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "abcdefghij\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "klm\n")
    }

    @Test func zeroRotatedFilesTruncatesInPlace() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        let log = RotatingLog(path: path, limit: LogLimit(maxSize: 1000, maxFiles: 0))
        for _ in 0..<25 { write(log, String(repeating: "y", count: 99) + "\n") }
        #expect(size(path) == 500)
        #expect(!FileManager.default.fileExists(atPath: path + ".1"))
    }

    @Test func aSmallerMaxFilesRemovesOlderFilesOfAnEarlierRun() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        for index in 1...4 { try "old \(index)\n".write(toFile: path + ".\(index)", atomically: true, encoding: .utf8) }
        _ = RotatingLog(path: path, limit: LogLimit(maxSize: 1000, maxFiles: 2))
        #expect(LogFiles.all(path) == [path + ".2", path + ".1", path])
    }

    @Test func tailReadsAcrossRotatedFilesAndJoinsACutLine() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        try "one\ntwo\nthr".write(toFile: path + ".2", atomically: true, encoding: .utf8)
        try "ee\nfour\n".write(toFile: path + ".1", atomically: true, encoding: .utf8)
        try "five\nsix\n".write(toFile: path, atomically: true, encoding: .utf8)
        let files = LogFiles.all(path)
        #expect(FileTail.snapshot(ofFiles: files, count: nil).lines == ["one", "two", "three", "four", "five", "six"])
        #expect(FileTail.snapshot(ofFiles: files, count: 4).lines == ["three", "four", "five", "six"])
        let (lines, end) = FileTail.snapshot(ofFiles: files, count: 1)
        #expect(lines == ["six"] && end == 9)
        // A last line still being written: shown once whole, by the follower.
        try "five\nsix\nsev".write(toFile: path, atomically: true, encoding: .utf8)
        let whole = FileTail.snapshot(ofFiles: files, count: 2, wholeLines: true)
        #expect(whole.lines == ["five", "six"] && whole.end == 9)
        #expect(FileTail.snapshot(ofFiles: files, count: nil, wholeLines: true).lines.last == "six")
        #expect(FileTail.snapshot(ofFiles: files, count: 2).lines == ["six", "sev"])
    }

    @Test func followerSurvivesRotationAndTruncation() throws {
        let folder = try Folder()
        let path = folder.path + "/svc.log"
        let log = RotatingLog(path: path, limit: LogLimit(maxSize: 40, maxFiles: 2))
        let follower = FileFollower(path: path)
        write(log, "line-1\nline-2\n")
        #expect(follower.poll() == ["line-1", "line-2"])
        // Written before and after a rotation the follower did not see happen.
        write(log, "line-3 is longer\n")
        write(log, "line-4 goes to a new file\n")
        write(log, "line-5\n")
        #expect(follower.poll() == ["line-3 is longer", "line-4 goes to a new file", "line-5"])
        // Two rotations between looks: the file in between (now .1) is read too.
        write(log, "line-6 fills the file up\n")
        write(log, "line-7 rotates again, twice\n")
        write(log, "line-8\n")
        #expect(follower.poll() == ["line-6 fills the file up", "line-7 rotates again, twice", "line-8"])
        // Truncated in place: read again from the start.
        let fd = open(path, O_WRONLY | O_TRUNC)
        close(fd)
        write(log, "line-9\n")
        #expect(follower.poll() == ["line-9"])
    }
}
