import Foundation

/// Reads tests, with their wall-clock intervals, from the files test runners
/// write. `read(_:)` tells the format from the content:
/// - Playwright's JSON reporter (`{"suites": [...]}`): one test per result
///   (retries are attempts of their own), id `file › describe › title`.
/// - JUnit XML (`<testsuites>`/`<testsuite>`): see `JUnitReader`.
/// - `go test -json`: a test runs from its `run` action to its `pass`, `fail` or
///   `skip`; id `Package/Test`.
/// - muster's own tests file (JSON lines with `id`, `outcome`, `start`, `end`).
///
/// Every failure is a `MusterError(.usage)` whose one line names the file and what is wrong.
public enum TestReportReader {
    public static func read(_ path: String) throws -> [TestRecord] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let why =
                FileManager.default.fileExists(atPath: path)
                ? "cannot be read (check its permissions)" : "does not exist"
            throw problem(
                path, "\(why); --tests takes a Playwright JSON report, a JUnit XML file or go test -json output")
        }
        return try read(data, file: path)
    }

    /// The tests of a report's bytes; `path` names it in messages.
    static func read(_ data: Data, file path: String) throws -> [TestRecord] {
        guard let first = data.first(where: { ![9, 10, 13, 32].contains($0) }) else {
            throw problem(path, "is empty; did the test runner write its report there?")
        }
        switch first {
        case UInt8(ascii: "<"):
            return try JUnitReader.read(data, file: path)
        case UInt8(ascii: "{"):
            // JSON lines (go test -json, muster's tests file) have a whole object on line 1;
            // Playwright writes one indented document (or all of it on one line).
            var keys: Set<String> = []
            forEachLine(data) { line, _ in
                // A long first line is a whole document on one line: Playwright's, not worth reading twice.
                if line.count < 1 << 16 { keys = topKeys(line) ?? [] }
                return false
            }
            if keys.contains("Action") { return try GoTestReader.read(data, file: path) }
            if keys.contains("id") && keys.contains("start") { return try testsLines(data, file: path) }
            if keys.isEmpty || keys.contains("suites") { return try PlaywrightReader.read(data, file: path) }
            throw problem(
                path, "is JSON but neither a Playwright report (no \"suites\") nor go test -json (no \"Action\")")
        default:
            throw problem(path, "is not a Playwright JSON report, a JUnit XML file or go test -json output")
        }
    }

    /// The keys of a line that holds one whole JSON object; nil when it does not.
    private static func topKeys(_ line: UnsafeRawBufferPointer) -> Set<String>? {
        var cursor = JSONCursor(line)
        var keys: Set<String> = []
        do {
            var members = try cursor.beginObject()
            while let key = try cursor.nextKey(&members) {
                keys.insert(key)
                try cursor.skip()
            }
            try cursor.end()
        } catch {
            return nil
        }
        return keys
    }

    /// The file `muster run` gives CMD as `MUSTER_TESTS_FILE`. Lines that are not
    /// whole test objects (a write cut short) are skipped and counted.
    public static func readTestsFile(_ path: String) -> (tests: [TestRecord], skipped: Int) {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return ([], 0) }
        var tests: [TestRecord] = []
        var skipped = 0
        forEachLine(data) { line, _ in
            if let test = try? TestRecord(json: line, defaultSource: "pytest") {
                tests.append(test)
            } else {
                skipped += 1
            }
            return true
        }
        return (tests, skipped)
    }

    static func problem(_ path: String, _ text: String) -> MusterError {
        MusterError(.usage, "--tests \(path): \(text)")
    }

    /// Calls `body` with each non-blank line (without its newline, valid only during
    /// the call) and its 1-based number; stops when it returns false.
    static func forEachLine(_ data: Data, _ body: (UnsafeRawBufferPointer, Int) throws -> Bool) rethrows {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            guard let base = buffer.baseAddress else { return }
            var number = 0
            var offset = 0
            while offset < buffer.count {
                let end =
                    memchr(base + offset, 10, buffer.count - offset).map { UnsafeRawPointer($0) - base } ?? buffer.count
                number += 1
                var first = offset
                while first < end, buffer[first] == 9 || buffer[first] == 13 || buffer[first] == 32 { first += 1 }
                if first < end {
                    guard try body(UnsafeRawBufferPointer(rebasing: buffer[offset..<end]), number) else { return }
                }
                offset = end + 1
            }
        }
    }

    /// Whether `needle` occurs in `bytes`: memchr for its second byte (the first,
    /// often a quote, is everywhere in JSON), then memcmp.
    static func contains(_ bytes: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard let base = bytes.baseAddress, !needle.isEmpty, bytes.count >= needle.count else { return false }
        let anchor = needle.count > 1 ? 1 : 0
        var offset = anchor
        let last = bytes.count - needle.count + anchor
        while offset <= last, let hit = memchr(base + offset, Int32(needle[anchor]), last - offset + 1) {
            let at = UnsafeRawPointer(hit) - base
            if memcmp(base + at - anchor, needle, needle.count) == 0 { return true }
            offset = at + 1
        }
        return false
    }

    // MARK: - muster's tests file given as --tests

    static func testsLines(_ data: Data, file: String) throws -> [TestRecord] {
        var tests: [TestRecord] = []
        try forEachLine(data) { line, number in
            guard let test = try? TestRecord(json: line, defaultSource: "pytest") else {
                throw problem(file, "line \(number) is not a test object with id, outcome, start and end")
            }
            tests.append(test)
            return true
        }
        return tests
    }
}
