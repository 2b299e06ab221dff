import Foundation
import Testing

/// The seam to the operating system stays closed: docs/platform.md's list of Linux
/// calls is exactly what a search of Sources finds (a call added or moved without the
/// list fails here, and so does a listed call that is gone), every one of them is in
/// Sources/MusterKit/Platform/ or the C shims, and only Platform/ calls the shims that
/// wrap them.
@Suite struct PlatformSeamTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let listHeading = "## Every Linux call, and where it is"
    static let platformFolder = "Sources/MusterKit/Platform/"
    static let shimFolder = "Sources/CMusterShims/"
    /// Shims Swift may call outside Platform/: POSIX in C, or a library loaded by name
    /// (the doc's "Outside the folder, and why").
    static let portableShims: Set<String> = [
        "muster_build_commit", "muster_xml_walk",
        "muster_tls_open", "muster_tls_handshake", "muster_tls_read", "muster_tls_write", "muster_tls_close",
    ]

    /// What counts as a Linux call, by the name docs/platform.md lists it under; each
    /// pattern is searched in the code of every .swift, .c and .h file of Sources with
    /// comments left out.
    static let vocabulary: [(name: String, pattern: String)] = [
        ("Glibc.", #"\bGlibc\."#),
        ("_GNU_SOURCE", #"\b_GNU_SOURCE\b"#),
        ("SOCK_CLOEXEC", #"\bSOCK_CLOEXEC\b"#),
        ("SOCK_NONBLOCK", #"\bSOCK_NONBLOCK\b"#),
        ("CONSTANT.rawValue", #"\b[A-Z][A-Z0-9_]{2,}\.rawValue\b|\b__\w+_t\b"#),
        ("MSG_NOSIGNAL", #"\bMSG_NOSIGNAL\b"#),
        ("pipe2", #"\bpipe2\b"#),
        ("dup3", #"\bdup3\b"#),
        ("F_SETPIPE_SZ", #"\bF_SETPIPE_SZ\b"#),
        ("clone(CLONE_VFORK)", #"\bCLONE_[A-Z]+\b"#),
        ("prctl", #"\bprctl\b"#),
        ("syscall", #"\bsyscall\s*\("#),
        ("close_range", #"close_range\b"#),
        ("pidfd", #"pidfd"#),
        ("epoll", #"\bepoll_\w+|\bEPOLL\w*"#),
        ("inotify", #"\binotify_\w+|\bIN_[A-Z_]+\b"#),
        ("/proc", #""/proc\b"#),
        ("lib*.so.N", #""lib[\w+-]+\.so\.\d"#),
        ("FS_IOC flags", #"\bFS_IOC_\w+|\bFS_\w+_FL\b"#),
        ("statfs", #"\bstatfs\b"#),
    ]

    @Test func theListInDocsPlatformMatchesTheSources() throws {
        let listed = try Self.listed()
        let found = try Self.found()
        #expect(
            Set(listed.keys) == Set(Self.vocabulary.map(\.name)),
            "docs/platform.md lists exactly the calls of the vocabulary, each once")
        for (name, _) in Self.vocabulary {
            #expect(
                listed[name] == found[name] ?? [],
                "\(name): docs/platform.md says \(listed[name]?.sorted() ?? []), the sources have \((found[name] ?? []).sorted())"
            )
        }
        if listed != found.filter({ !$0.value.isEmpty }) {
            Issue.record("the list as it should read:\n\(Self.table(found))")
        }
    }

    @Test func everyLinuxCallIsInPlatformOrTheShims() throws {
        for (name, files) in try Self.found() {
            for file in files.sorted() {
                #expect(
                    file.hasPrefix(Self.platformFolder) || file.hasPrefix(Self.shimFolder),
                    "\(name) in \(file): move it behind a function of \(Self.platformFolder)")
            }
        }
    }

    @Test func onlyPlatformCallsTheShimsOfLinuxCalls() throws {
        let header = try String(
            contentsOfFile: Self.root + "/" + Self.shimFolder + "include/muster_shims.h", encoding: .utf8)
        let shims = Set(Self.matches(#"\bmuster_\w+(?=\s*\()"#, in: Self.code(header, language: "h")))
        #expect(shims.contains("muster_pipe_cloexec"), "the shims are read from the header")
        for file in try Self.sourceFiles() where file.hasSuffix(".swift") && !file.hasPrefix(Self.platformFolder) {
            let text = try String(contentsOfFile: Self.root + "/" + file, encoding: .utf8)
            let called = Set(Self.matches(#"\bmuster_\w+"#, in: Self.code(text, language: "swift")))
            let linux = called.intersection(shims).subtracting(Self.portableShims)
            #expect(linux.isEmpty, "\(file) calls \(linux.sorted()): call them through \(Self.platformFolder)")
        }
    }

    /// The search itself: comments are left out, string literals are kept.
    @Test func commentsAreLeftOutOfTheSearch() {
        let swift = Self.code(
            "let a = 1  // Glibc.close\n/// pipe2\nlet b = \"/proc/self\"  // \"/proc\"", language: "swift")
        #expect(swift == "let a = 1  \n\nlet b = \"/proc/self\"  ")
        let c = Self.code("int x; /* prctl(\n dup3 */ int y = \"a//b\"; // epoll_wait\n", language: "c")
        #expect(c == "int x; \n int y = \"a//b\"; \n")
    }

    // MARK: - The search

    /// Paths relative to the repository of every .swift, .c and .h file under Sources.
    static func sourceFiles() throws -> [String] {
        let sources = root + "/Sources"
        let enumerator = try #require(FileManager.default.enumerator(atPath: sources))
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix(".swift") || path.hasSuffix(".c") || path.hasSuffix(".h") {
                files.append("Sources/" + path)
            }
        }
        return files.sorted()
    }

    /// For each name of the vocabulary, the files whose code has it.
    static func found() throws -> [String: Set<String>] {
        var found: [String: Set<String>] = [:]
        for file in try sourceFiles() {
            let text = try String(contentsOfFile: root + "/" + file, encoding: .utf8)
            let code = code(text, language: (file as NSString).pathExtension)
            for (name, pattern) in vocabulary where !matches(pattern, in: code).isEmpty {
                found[name, default: []].insert(file)
            }
        }
        return found
    }

    /// The table under `listHeading` in docs/platform.md: the call is the first cell's
    /// code span, the files are the code spans of the last cell.
    static func listed() throws -> [String: Set<String>] {
        let doc = try String(contentsOfFile: root + "/docs/platform.md", encoding: .utf8)
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: listHeading), "docs/platform.md has no \"\(listHeading)\"")
        var listed: [String: Set<String>] = [:]
        for line in lines[(start + 1)...] {
            if line.hasPrefix("## ") { break }
            guard line.hasPrefix("| `") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: true).map(String.init)
            guard let name = codeSpans(cells.first ?? "").first, let last = cells.last else { continue }
            #expect(listed[name] == nil, "\(name) is listed twice")
            listed[name] = Set(codeSpans(last))
        }
        return listed
    }

    /// The table as docs/platform.md should have it (without the middle column's words).
    static func table(_ found: [String: Set<String>]) -> String {
        vocabulary.compactMap { name, _ in
            guard let files = found[name], !files.isEmpty else { return nil }
            return "| `\(name)` | ... | " + files.sorted().map { "`\($0)`" }.joined(separator: ", ") + " |"
        }.joined(separator: "\n")
    }

    static func codeSpans(_ text: String) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated()
            .filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    static func matches(_ pattern: String, in text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else {
            Issue.record("bad pattern \(pattern)")
            return []
        }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } }
    }

    /// The text without its comments: `//` to the end of a line outside a string
    /// literal, and (in C) `/* ... */`. Good enough for this search: a quote inside a
    /// Swift multi-line string can only make it keep a comment, never drop code.
    static func code(_ text: String, language: String) -> String {
        var output = ""
        var inBlock = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var kept = ""
            var inString = false
            var escaped = false
            var index = line.startIndex
            while index < line.endIndex {
                let char = line[index]
                let next = line.index(after: index)
                let pair = next < line.endIndex ? String([char, line[next]]) : String(char)
                if inBlock {
                    if pair == "*/" { inBlock = false; index = line.index(after: next); continue }
                } else if inString {
                    kept.append(char)
                    if escaped {
                        escaped = false
                    } else if char == "\\" {
                        escaped = true
                    } else if char == "\"" {
                        inString = false
                    }
                } else if pair == "//" {
                    break
                } else if pair == "/*", language != "swift" {
                    inBlock = true
                    index = line.index(after: next)
                    continue
                } else {
                    kept.append(char)
                    if char == "\"" { inString = true }
                }
                index = next
            }
            output += kept + "\n"
        }
        output.removeLast()
        return output
    }
}
