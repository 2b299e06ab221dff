import Foundation
import Testing
@testable import MusterKit

/// Mutation fuzzing of the stack file loader (the "hardening" issue): valid stacks are
/// broken in many small ways, and every mutant must be either accepted or refused with
/// a `MusterError` that names `FILE:LINE:COLUMN`, never crash, and never hang.
///
/// The run is deterministic: mutant N is built from the fixed seed and N alone, so a
/// failure reported as "seed S, mutant #N" is reproduced with `MUSTER_FUZZ_SEED=S
/// MUSTER_FUZZ_ONLY=N`. `MUSTER_FUZZ_MUTATIONS` sets the count: 1 000 by default,
/// 20 000 in `scripts/soak`.
@Suite(.serialized) struct MutationFuzzTests {
    static let defaultSeed: UInt64 = 0x6D75_7374_6572_2046  // "muster F"
    static let defaultMutations = 1_000
    /// A parse that takes longer than this is reported as a hang.
    /// A hang is a parse that never ends; 5 s leaves room for a loaded CI machine.
    static let hangLimit = 5.0

    @Test func seedsAreValid() throws {
        let sandbox = try FuzzSandbox()
        defer { sandbox.remove() }
        #expect(FuzzSeeds.all.count >= 5)
        for seed in FuzzSeeds.all {
            #expect(throws: Never.self, "seed \(seed.name) must parse") {
                _ = try StackLoader.parse(
                    yaml: seed.text, file: seed.name, directory: sandbox.path, environment: sandbox.environment)
            }
        }
    }

    /// The seeds are only useful if mutations start from every feature of the format.
    @Test func seedsCoverEveryFeature() throws {
        let sandbox = try FuzzSandbox()
        defer { sandbox.remove() }
        let stacks = try FuzzSeeds.all.map {
            try StackLoader.parse(
                yaml: $0.text, file: $0.name, directory: sandbox.path, environment: sandbox.environment)
        }
        let services = stacks.flatMap(\.services)
        #expect(Set(services.compactMap { $0.engine?.kind }) == Set(EngineKind.allCases))
        let probes = services.flatMap { [$0.ready, $0.alive].compactMap { $0 } }
        #expect(Set(probes.map(\.kind.name)) == Set(ProbeSpec.kindNames))
        #expect(Set(services.flatMap { $0.dependsOn.map(\.condition) }) == Set(DependencyCondition.allCases))
        #expect(Set(services.map(\.restart)) == Set(RestartPolicy.allCases))
        #expect(
            services.contains {
                if case .shell? = $0.command { return true }; return false
            })
        #expect(
            services.contains {
                if case .exec? = $0.command { return true }; return false
            })
        #expect(
            services.contains { $0.port == .auto }
                && services.contains {
                    if case .fixed? = $0.port { return true }; return false
                })
        #expect(Set(services.map(\.stopSignal)).count >= 5)
        #expect(services.contains { !$0.envFileValues.isEmpty })
        #expect(services.contains { $0.templates.contains { !$0.references.isEmpty } })
        #expect(services.contains { $0.engine.map { !$0.settings.isEmpty && !$0.databases.isEmpty } ?? false })
        #expect(services.contains { !($0.engine?.topics.isEmpty ?? true) })
        #expect(stacks.contains { $0.logs.maxSize != nil && $0.logs.maxFiles != nil })
        #expect(services.contains { $0.logs.maxSize != nil })
        let apps = try #require(stacks.first { $0.name == "apps_1" })
        let env = Dictionary(apps.env.map { ($0.key, $0.value.description) }, uniquingKeysWith: { $1 })
        #expect(env["LOG_LEVEL"] == "debug")  // ${FUZZ_LEVEL:-info}, set
        #expect(env["REGION"] == "eu")  // ${FUZZ_REGION-eu}, unset
        #expect(env["FROM_FILE"] == "from-env-file")  // $FUZZ_FROM_FILE, from env_file
    }

    @Test func mutantsDependOnlyOnSeedAndIndex() {
        let first = (0..<20).map { FuzzCampaign(seed: 42).mutant($0) }
        let again = (0..<20).reversed().map { FuzzCampaign(seed: 42).mutant($0) }.reversed()
        #expect(first.map(\.text) == again.map(\.text))
        #expect(Set(first.map(\.text)).count > 15)
        #expect(
            FuzzCampaign(seed: 43).mutant(0).text != first[0].text
                || FuzzCampaign(seed: 43).mutant(1).text != first[1].text)
    }

    @Test func mutantsAreAcceptedOrRefusedWithALocation() throws {
        let environment = ProcessInfo.processInfo.environment
        let count =
            try Self.setting("MUSTER_FUZZ_MUTATIONS", in: environment).map { Int(clamping: $0) }
            ?? Self.defaultMutations
        let seed = try Self.setting("MUSTER_FUZZ_SEED", in: environment) ?? Self.defaultSeed
        let only = try Self.setting("MUSTER_FUZZ_ONLY", in: environment).map { Int(clamping: $0) }
        let sandbox = try FuzzSandbox()
        defer { sandbox.remove() }
        FuzzCrashNote.install()
        defer { FuzzCrashNote.uninstall() }
        let campaign = FuzzCampaign(seed: seed)
        let indices = only.map { [$0] } ?? Array(0..<count)
        var failures: [String] = []
        var accepted = 0
        var slowest = (index: 0, milliseconds: 0, steps: [String]())
        let started = Date()
        for index in indices {
            let mutant = campaign.mutant(index)
            FuzzCrashNote.set(Self.report("crashed the test process", mutant, seed: seed, index: index))
            let clock = Date()
            guard
                let outcome = FuzzWatchdog.parse(
                    mutant.text, file: mutant.file, sandbox: sandbox, limit: Self.hangLimit)
            else {
                failures.append(Self.report("took over \(Self.hangLimit) s (hang)", mutant, seed: seed, index: index))
                break  // the parse thread cannot be stopped; more mutants would only pile up behind it
            }
            let milliseconds = Int(Date().timeIntervalSince(clock) * 1000)
            if milliseconds > slowest.milliseconds { slowest = (index, milliseconds, mutant.steps) }
            switch outcome {
            case .accepted: accepted += 1
            case let .refused(error):
                if let problem = Self.problem(with: error, mutant: mutant) {
                    failures.append(Self.report(problem, mutant, seed: seed, index: index))
                }
            case let .foreign(description):
                failures.append(
                    Self.report("threw a non-MusterError: \(description)", mutant, seed: seed, index: index))
            }
        }
        print(
            "MutationFuzzTests: \(indices.count) mutants, seed \(seed): \(accepted) accepted, \(indices.count - accepted) refused, "
                + "\(failures.count) failures; slowest #\(slowest.index) "
                + "(\(slowest.steps.joined(separator: ", ")): \(slowest.milliseconds) ms), "
                + "all in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        for failure in failures.prefix(10) { Issue.record(Comment(rawValue: failure)) }
        #expect(failures.count == 0, "\(failures.count) of \(indices.count) mutants misbehaved (seed \(seed))")
        if only == nil {
            #expect(accepted > 0 && accepted < count, "mutants should be a mix of accepted and refused")
        }
    }

    /// Inputs the fuzzer once found to crash, hang or be refused badly, kept so they stay fixed.
    static let regressions: [(name: String, yaml: String, message: String)] = [
        (
            "alias bomb as a key",
            "x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                + (1..<9).map {
                    "x-l\($0): &l\($0) [" + Array(repeating: "*l\($0 - 1)", count: 10).joined(separator: ", ") + "]\n"
                }.joined()
                + "? *l8\n: boom\nservices: { a: { command: sleep 1 } }\n", "alias *l8 is used as a key"
        ),
        (
            "20 000 nested defaults",
            "services:\n  a:\n    command: \"" + String(repeating: "${UNSET:-", count: 20_000) + "x"
                + String(repeating: "}", count: 20_000) + "\"\n", "nested deeper than 8 levels"
        ),
        (
            "env_file that never ends", "env_file: /dev/zero\nservices: { a: { command: sleep 1 } }\n",
            "/dev/zero is larger than 2048 KiB"
        ),
        (
            "1 100 nested block sequences",
            "services:\n  a:\n    command:\n      " + String(repeating: "- ", count: 1_100) + "x\n",
            "Maximum nesting level"
        ),
        ("end of a file without a final newline", "services:\n  a:\n    command: [sleep", "\"[\" is never closed"),
        ("empty document without a final newline", "---\n# nothing", "the stack file must be a mapping"),
        (
            "line breaks in a quoted value",
            "services:\n  a:\n    command: sleep 1\n    stop_signal: |\n      TERM\n      KILL\n",
            "unknown signal \"TERM\\nKILL\\n\""
        ),
    ]

    @Test(arguments: regressions.map(\.name))
    func regressionIsRefusedWithALocation(_ name: String) throws {
        let regression = try #require(Self.regressions.first { $0.name == name })
        let sandbox = try FuzzSandbox()
        defer { sandbox.remove() }
        let mutant = FuzzMutant(file: "regression.yaml", steps: [name], text: regression.yaml)
        let outcome = try #require(
            FuzzWatchdog.parse(mutant.text, file: mutant.file, sandbox: sandbox, limit: Self.hangLimit),
            "took over \(Self.hangLimit) s")
        guard case let .refused(error) = outcome else { Issue.record("not refused: \(outcome)"); return }
        #expect(Self.problem(with: error, mutant: mutant) == nil)
        #expect(error.message.contains(regression.message), "\(FuzzMutant.escaped(error.headline, limit: 300))")
    }

    /// A refusal must be a stack or usage error whose headline starts `FILE:LINE:COLUMN`
    /// with a line inside the file, followed by a one-line message.
    static func problem(with error: MusterError, mutant: FuzzMutant) -> String? {
        let headline = FuzzMutant.escaped(error.headline, limit: 400)
        guard error.code == .invalidStack || error.code == .usage else {
            return "refused with code \(error.code) instead of invalidStack: \(headline)"
        }
        guard let location = error.location else { return "refused without a location: \(headline)" }
        // Generous: YAML also breaks lines at CR, NEL, LS and PS.
        let lines = mutant.text.reduce(1) { $1.isNewline ? $0 + 1 : $0 }
        guard location.file == mutant.file, (1...lines).contains(location.line), location.column >= 1 else {
            return "refused at an impossible location \(location) (the file has \(lines) lines): \(headline)"
        }
        guard error.headline.hasPrefix("\(mutant.file):\(location.line):\(location.column): ") else {
            return "headline does not start with FILE:LINE:COLUMN: \(headline)"
        }
        guard !error.message.isEmpty, !error.message.contains(where: \.isNewline) else {
            return "message is not a single line: \(FuzzMutant.escaped(error.message, limit: 300))"
        }
        return nil
    }

    static func report(_ problem: String, _ mutant: FuzzMutant, seed: UInt64, index: Int) -> String {
        "seed \(seed), mutant #\(index) (from \(mutant.file), mutations: \(mutant.steps.joined(separator: ", "))): \(problem)\n"
            + "reproduce: MUSTER_FUZZ_SEED=\(seed) MUSTER_FUZZ_ONLY=\(index) swift test --filter MutationFuzzTests\n"
            + "mutant: \(FuzzMutant.escaped(mutant.text, limit: 1500))"
    }

    /// A decimal or `0x` hexadecimal number from the environment.
    static func setting(_ name: String, in environment: [String: String]) throws -> UInt64? {
        guard let text = environment[name] else { return nil }
        let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        let number: UInt64 = try #require(value, "\(name)=\(text) is not a number")
        return number
    }
}

/// One broken stack file and how it was made.
struct FuzzMutant {
    var file: String
    var steps: [String]
    var text: String

    /// Control characters and the long middle of the text made visible for reports.
    static func escaped(_ text: String, limit: Int) -> String {
        var shown = text
        if text.count > limit {
            shown =
                String(text.prefix(limit * 2 / 3)) + "\n…[\(text.count - limit) characters left out]…\n"
                + String(text.suffix(limit / 3))
        }
        return shown.unicodeScalars.map { scalar in
            scalar == "\n"
                || (scalar.value >= 0x20 && scalar.value != 0x7F && scalar.properties.generalCategory != .format
                    && scalar.properties.generalCategory != .control)
                ? String(scalar) : "\\u{\(String(scalar.value, radix: 16))}"
        }.joined()
    }
}

/// The valid stacks the mutants start from: the shipped default stack and the
/// feature-complete fixtures in `Tests/Fixtures/valid`.
enum FuzzSeeds {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let all: [(name: String, text: String)] = {
        let folder = root.appendingPathComponent("Tests/Fixtures/valid")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
            $0.hasSuffix(".yaml")
        }.sorted()
        let files =
            [root.appendingPathComponent("stacks/default.yaml")] + names.map { folder.appendingPathComponent($0) }
        return files.compactMap { url in
            (try? String(contentsOf: url, encoding: .utf8)).map { (url.lastPathComponent, $0) }
        }
    }()
}

/// A scratch folder for the parser's relative paths (`env_file`, `working_dir`, `bin`)
/// and a fixed environment, so results do not depend on the machine.
struct FuzzSandbox {
    let path: String
    let environment: [String: String]

    init() throws {
        path = NSTemporaryDirectory() + "muster-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try "# read by env_file in the fuzz seeds\nFUZZ_FROM_FILE=from-env-file\nexport FUZZ_LEVEL=ignored\n"
            .write(toFile: path + "/fuzz.env", atomically: true, encoding: .utf8)
        try "SERVICE_ONLY='quoted value'\nSERVICE_MULTI=\"a\\nb\"\n".write(
            toFile: path + "/service.env", atomically: true, encoding: .utf8)
        environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": path, "MUSTER_PYTHON": "/bin/sh",
            "FUZZ_LEVEL": "debug", "FUZZ_TRACE": "1", "FUZZ_EMPTY": "",
        ]
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs one parse on its own thread so that a parse that never returns is reported
/// (with its mutant) instead of stalling the whole test run.
enum FuzzWatchdog {
    enum Outcome {
        case accepted
        case refused(MusterError)
        case foreign(String)
    }

    private final class Run: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var outcome: Outcome = .accepted
    }

    /// The outcome, or nil when the parse did not finish within `limit` seconds.
    static func parse(_ text: String, file: String, sandbox: FuzzSandbox, limit: Double) -> Outcome? {
        let run = Run()
        let thread = Thread {
            let altStack = FuzzCrashNote.alternateStack()
            defer { FuzzCrashNote.release(altStack) }
            do {
                let stack = try StackLoader.parse(
                    yaml: text, file: file, directory: sandbox.path, environment: sandbox.environment)
                // What `muster config` does with an accepted file must not crash either.
                let renderer = StackRenderer(stack: stack, project: nil)
                _ = renderer.text()
                _ = renderer.json()
            } catch let error as MusterError {
                run.outcome = .refused(error)
            } catch {
                run.outcome = .foreign(String(describing: error))
            }
            run.done.signal()
        }
        // Half of Linux's default 8 MiB, the stack muster parses on: a margin for its
        // callers. (libyaml stops at 1 000 levels, which Yams composes recursively in
        // about 1 MiB in debug builds; Darwin's 512 KiB threads would not suffice.)
        thread.stackSize = 4 << 20
        thread.start()
        return run.done.wait(timeout: .now() + limit) == .success ? run.outcome : nil
    }
}

/// Names the mutant on stderr when parsing it kills the process (a Swift trap, a stack
/// overflow): the test cannot report anything after that. The handler only writes the
/// prepared note, then puts back the handler it replaced (the Swift runtime's backtracer)
/// and returns, so the crash goes on as before.
enum FuzzCrashNote {
    static let signals = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE]
    private static let capacity = 4096
    // Read by a signal handler, which can take no lock: set before the handler is installed.
    nonisolated(unsafe) private static let note = UnsafeMutablePointer<CChar>.allocate(capacity: capacity)
    nonisolated(unsafe) private static var length = 0
    nonisolated(unsafe) private static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
    private static let altStackSize = 64 << 10
    nonisolated(unsafe) private static var parseThread = pthread_self()

    static func install() {
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                // Only a crash of the parse thread is the mutant's doing.
                if pthread_equal(pthread_self(), FuzzCrashNote.parseThread) != 0 {
                    _ = write(2, FuzzCrashNote.note, FuzzCrashNote.length)
                }
                _ = sigaction(signal, FuzzCrashNote.previous + Int(signal), nil)
            }
            action.sa_flags = Int32(SA_ONSTACK)
            _ = sigaction(signal, &action, previous + Int(signal))
        }
    }

    static func uninstall() {
        for signal in signals { _ = sigaction(signal, previous + Int(signal), nil) }
        length = 0
    }

    /// The note printed if the process dies before the next `set`.
    static func set(_ text: String) {
        let bytes = Array(("\nMutationFuzzTests: " + text + "\n").utf8.prefix(capacity))
        bytes.withUnsafeBytes {
            UnsafeMutableRawPointer(note).copyMemory(from: $0.baseAddress!, byteCount: bytes.count)
        }
        length = bytes.count
    }

    /// Called on the parse thread before parsing: a stack overflow can only be handled
    /// on another stack.
    static func alternateStack() -> UnsafeMutableRawPointer {
        parseThread = pthread_self()
        let memory = UnsafeMutableRawPointer.allocate(byteCount: altStackSize, alignment: 16)
        var stack = stack_t(ss_sp: memory, ss_flags: 0, ss_size: altStackSize)
        _ = sigaltstack(&stack, nil)
        return memory
    }

    static func release(_ memory: UnsafeMutableRawPointer) {
        var off = stack_t()
        off.ss_flags = Int32(SS_DISABLE)
        _ = sigaltstack(&off, nil)
        memory.deallocate()
    }
}

/// SplitMix64 (Steele, Lea and Flood): tiny, and the same numbers on every platform
/// and toolchain, which the standard library's random helpers do not promise.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (bound > 0); the modulo bias is irrelevant here.
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

/// Builds mutant N of a campaign from the seed and N alone.
struct FuzzCampaign {
    let seed: UInt64

    func mutant(_ index: Int) -> FuzzMutant {
        var rng = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        let start = rng.pick(FuzzSeeds.all)
        var mutator = StackMutator(rng: rng, lines: StackMutator.lines(start.text))
        let steps = (0..<mutator.rng.pick([1, 1, 1, 2, 2, 3])).map { _ in mutator.mutateOnce() }
        return FuzzMutant(file: start.name, steps: steps, text: mutator.text)
    }
}

/// The mutations: structural edits of lines, byte-level damage, and values of the
/// wrong type or shape in the places the stack format gives meaning to.
struct StackMutator {
    var rng: SplitMix64
    var lines: [String]
    var text: String {
        get { lines.joined(separator: "\n") }
        set { lines = Self.lines(newValue) }
    }

    /// Split at every LF, including the LF of a CRLF (one Character to `split`).
    static func lines(_ text: String) -> [String] {
        text.components(separatedBy: "\n")
    }

    enum Mutation: String, CaseIterable {
        case deleteLine, duplicateLine, swapLines, moveLine, reindent, addTab, removeColon, quoteBreak
        case truncate, deleteRange, insertBytes, insertInvalidUTF8, insertUnicode, lineEndings
        case replaceValue, emptyValue, multilineValue, swapValues, misspellKey, otherKey, duplicateFlowKey
        case unterminatedInterpolation, badInterpolation, nestedDefaults
        case deepFlow, deepBlock, longString, longKey
        case mutateDuration, mutatePort, mutateSignal, mutateNumber, mutatePath
        case yamlSyntax, aliasBomb, spliceLine, documentMarkers
    }

    /// Mutations that mostly keep the YAML well-formed come twice, so that more mutants
    /// get past the YAML parser into the stack checks.
    static let weighted =
        Mutation.allCases + [
            .replaceValue, .emptyValue, .swapValues, .misspellKey, .otherKey, .unterminatedInterpolation,
            .badInterpolation,
            .mutateDuration, .mutatePort, .mutateSignal, .mutateNumber, .mutatePath, .spliceLine, .deleteLine,
            .multilineValue,
        ]

    /// Applies one random mutation and returns its name.
    mutating func mutateOnce() -> String {
        let mutation = rng.pick(Self.weighted)
        apply(mutation)
        lines = Self.lines(text)  // re-split lines that gained line breaks; never leaves zero lines
        return mutation.rawValue
    }

    mutating func apply(_ mutation: Mutation) {
        switch mutation {
        case .deleteLine: lines.remove(at: anyLine())
        case .duplicateLine:
            let line = anyLine()
            lines.insert(lines[line], at: line + 1)
        case .swapLines: lines.swapAt(anyLine(), anyLine())
        case .moveLine:
            let line = lines.remove(at: anyLine())
            lines.insert(line, at: rng.below(lines.count + 1))
        case .reindent:
            let line = anyLine()
            let body = lines[line].drop { $0 == " " }
            let indent = lines[line].count - body.count
            let newIndent = rng.chance(50) ? max(0, indent + rng.pick([-4, -2, -1, 1, 2, 4])) : rng.below(13)
            lines[line] = String(repeating: " ", count: newIndent) + body
        case .addTab:
            let line = anyLine()
            if rng.chance(50) {
                lines[line] = "\t" + lines[line].drop { $0 == " " }
            } else {
                insert("\t", intoLine: line)
            }
        case .removeColon:
            let line = keyLine()
            if let colon = lines[line].firstIndex(of: ":") { lines[line].remove(at: colon) }
        case .quoteBreak:
            insert(
                rng.pick([
                    "\"", "'", "`", "\\", "#", "&", "*", "!", "|", ">", "%", "@", "[", "]", "{", "}", ",", "? ", "- ",
                    ": ",
                ]),
                intoLine: anyLine())
        case .truncate:
            let bytes = Array(text.utf8)
            text = String(decoding: bytes.prefix(rng.below(bytes.count + 1)), as: UTF8.self)
        case .deleteRange:
            var scalars = Array(text.unicodeScalars)
            let start = rng.below(scalars.count + 1)
            scalars.removeSubrange(start..<min(scalars.count, start + 1 + rng.below(40)))
            text = String(String.UnicodeScalarView(scalars))
        case .insertBytes:
            let bytes = (0...rng.below(8)).map { _ in UInt8(rng.below(0x80)) }
            insertScalars(String(decoding: bytes, as: UTF8.self))
        case .insertInvalidUTF8:
            // Repaired to U+FFFD on the way in, as `load` refuses files that are not UTF-8.
            let bytes = (0...rng.below(4)).map { _ in UInt8(0x80 + rng.below(0x80)) }
            insertScalars(String(decoding: bytes, as: UTF8.self))
        case .insertUnicode:
            insertScalars(
                rng.pick([
                    "\u{0}", "\u{7F}", "\u{1B}[31m", "\u{FEFF}", "\u{85}", "\u{2028}", "\u{2029}", "\u{200B}",
                    "\u{200D}",
                    "\u{202E}", "\u{301}", "e\u{301}", "\u{FFFD}", "\u{FFFE}", "\u{10FFFF}", "\u{1F680}", "🇫🇷", "\r",
                    "\u{A0}", "\u{3000}", "ー", "Ω", "ſ", "İ", "ß", "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}",
                ]))
        case .lineEndings:
            if rng.chance(50) {
                text = text.replacingOccurrences(of: "\n", with: "\r\n")
            } else {
                lines[anyLine()] += rng.pick(["\r", " ", "\t", "  # comment", " #", "\\"])
            }
        case .replaceValue: setValue(rng.pick(Self.foreignValues))
        case .emptyValue: setValue("")
        case .multilineValue: setValue(rng.pick(Self.multilineValues))
        case .swapValues:
            let (first, second) = (keyLine(), keyLine())
            guard let a = valueRange(first), let b = valueRange(second) else { break }
            let (valueA, valueB) = (String(lines[first][a]), String(lines[second][b]))
            lines[first].replaceSubrange(a, with: valueB)
            if let b = valueRange(second) { lines[second].replaceSubrange(b, with: valueA) }
        case .misspellKey: misspellKey()
        case .otherKey:
            let line = keyLine()
            if let key = keyRange(line) { lines[line].replaceSubrange(key, with: rng.pick(Self.knownKeys)) }
        case .duplicateFlowKey: duplicateFlowKey()
        case .unterminatedInterpolation:
            let line = keyLine()
            guard let value = valueRange(line) else { break }
            let offset = rng.below(lines[line][value].count + 1)
            let at = lines[line].index(value.lowerBound, offsetBy: offset)
            lines[line].insert(
                contentsOf: rng.pick(["${", "${FUZZ_LEVEL", "${db.url", "${X:-", "${X:-${Y}", "$", "${{", "$}", "${}"]),
                at: at)
        case .badInterpolation: setValue(rng.pick(Self.interpolations))
        case .nestedDefaults:
            let depth = rng.pick([2, 10, 65, 300, 2_000, 20_000])
            let body = String(repeating: "${FUZZ_UNSET:-", count: depth) + "x" + String(repeating: "}", count: depth)
            setValue(rng.pick(["\"\(body)\"", "'\(body)'", "it's \(body)", body]))
        case .deepFlow:
            let depth = rng.pick([3, 63, 64, 65, 200, 999, 5_000])
            let (open, close) = rng.pick([("[", "]"), ("{a: ", "}"), ("[{x: ", "}]")])
            let closing = rng.chance(80) ? String(repeating: close, count: depth) : ""
            setValue(String(repeating: open, count: depth) + "1" + closing)
        case .deepBlock: deepBlock()
        case .longString:
            let unit = rng.pick(["a", "$", "é", "🚀", "\\", "{", "${FUZZ_LEVEL}", "x ", "%", "\u{301}"])
            // Not longer: "did you mean" on a value of 250 000 characters already takes a second.
            let body = String(repeating: unit, count: rng.pick([1_000, 10_000, 20_000]))
            setValue(rng.pick([body, "\"\(body)\"", "[\(body)]"]))
        case .longKey:
            let line = keyLine()
            if let key = keyRange(line) {
                lines[line].replaceSubrange(
                    key,
                    with: String(repeating: rng.pick(["k", "x-", "é", "_"]), count: rng.pick([100, 1_000, 20_000])))
            }
        case .mutateDuration:
            setValue(rng.pick(Self.durations), ofKeys: ["interval", "timeout", "start_timeout", "stop_timeout"])
        case .mutatePort: setValue(rng.pick(Self.ports), ofKeys: ["port", "tcp", "http"])
        case .mutateSignal: setValue(rng.pick(Self.signals), ofKeys: ["stop_signal"])
        case .mutatePath: setValue(rng.pick(Self.paths), ofKeys: ["env_file", "working_dir", "bin"])
        case .mutateNumber:
            setValue(
                rng.pick(Self.numbers),
                ofKeys: ["max_restarts", "failures", "partitions", "replication_factor", "max_connections"])
        case .yamlSyntax:
            lines.insert(rng.pick(Self.yamlSnippets), at: rng.below(lines.count + 1))
        case .aliasBomb: aliasBomb()
        case .spliceLine:
            let donor = Self.lines(rng.pick(FuzzSeeds.all).text)
            lines.insert(rng.pick(donor), at: rng.below(lines.count + 1))
        case .documentMarkers:
            switch rng.below(4) {
            case 0: lines.insert("---", at: 0)
            case 1: lines.append(contentsOf: ["---", "services: { b: { command: \"true\" } }"])
            case 2: lines.insert("...", at: rng.below(lines.count + 1))
            default:
                lines.insert(
                    rng.pick(["%YAML 1.2", "%YAML 1.1", "%YAML 9.9", "%TAG !e! tag:example.com,2000:", "%FOO bar"])
                        + "\n---", at: 0)
            }
        }
    }

    // MARK: - Positions

    mutating func anyLine() -> Int { rng.below(lines.count) }

    /// A line holding `key: value` (or `- key: value`), or any line when there is none.
    mutating func keyLine() -> Int {
        let candidates = lines.indices.filter { keyRange($0) != nil }
        return candidates.isEmpty ? anyLine() : rng.pick(candidates)
    }

    func keyRange(_ line: Int) -> Range<String.Index>? {
        let text = lines[line]
        var start = text.firstIndex { $0 != " " } ?? text.endIndex
        if text[start...].hasPrefix("- ") { start = text.index(start, offsetBy: 2) }
        guard let colon = text[start...].firstIndex(of: ":"), colon > start, !text[start...].hasPrefix("#"),
            text[start..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) })
        else { return nil }
        return start..<colon
    }

    /// What follows `key:` up to the end of the line (empty at the end of a `key:` line).
    func valueRange(_ line: Int) -> Range<String.Index>? {
        guard let key = keyRange(line) else { return nil }
        let text = lines[line]
        var start = text.index(after: key.upperBound)
        while start < text.endIndex, text[start] == " " { start = text.index(after: start) }
        return start..<text.endIndex
    }

    mutating func setValue(_ value: String, ofKeys keys: [String]? = nil) {
        var line = keyLine()
        if let keys {
            let matching = lines.indices.filter { index in
                keyRange(index).map { keys.contains(String(lines[index][$0])) } ?? false
            }
            if !matching.isEmpty { line = rng.pick(matching) }
        }
        // Continuation lines go below the key, as a block scalar or nested block needs.
        let indent = String(repeating: " ", count: lines[line].prefix { $0 == " " }.count + 2)
        let value = value.replacingOccurrences(of: "\n", with: "\n" + indent)
        guard let range = valueRange(line) else {
            lines[line] += " " + value
            return
        }
        lines[line].replaceSubrange(range, with: value)
    }

    mutating func insert(_ fragment: String, intoLine line: Int) {
        let offset = rng.below(lines[line].count + 1)
        lines[line].insert(contentsOf: fragment, at: lines[line].index(lines[line].startIndex, offsetBy: offset))
    }

    /// Inserts between Unicode scalars, so combining marks may attach to their neighbour.
    mutating func insertScalars(_ fragment: String) {
        var scalars = Array(text.unicodeScalars)
        scalars.insert(contentsOf: fragment.unicodeScalars, at: rng.below(scalars.count + 1))
        text = String(String.UnicodeScalarView(scalars))
    }

    // MARK: - Larger mutations

    mutating func misspellKey() {
        let line = keyLine()
        guard let range = keyRange(line) else { return }
        var key = Array(lines[line][range])
        let at = rng.below(key.count)
        switch rng.below(7) {
        case 0: key.remove(at: at)
        case 1: key.insert(key[at], at: at)
        case 2: if key.count > 1 { key.swapAt(at, at == key.count - 1 ? at - 1 : at + 1) }
        case 3: key = Array(String(key).uppercased())
        case 4: key = Array(String(key).replacingOccurrences(of: "_", with: "-"))
        case 5: key.insert(contentsOf: rng.pick(["x-", "-", " ", "\""]), at: rng.chance(50) ? 0 : key.count)
        default: key[at] = rng.pick(["q", "0", "_", "é", "K"])
        }
        lines[line].replaceSubrange(range, with: String(key))
    }

    mutating func duplicateFlowKey() {
        let candidates = lines.indices.filter { lines[$0].contains("{") && lines[$0].contains(":") }
        guard !candidates.isEmpty else { return apply(.duplicateLine) }
        let line = rng.pick(candidates)
        let text = lines[line]
        let open = text.index(after: text.firstIndex(of: "{")!)
        let end = text[open...].firstIndex { $0 == "," || $0 == "}" } ?? text.endIndex
        let pair = text[open..<end].trimmingCharacters(in: .whitespaces)
        guard !pair.isEmpty else { return }
        lines[line].insert(contentsOf: " \(pair),", at: open)
    }

    mutating func deepBlock() {
        let line = keyLine()
        let indent = lines[line].prefix { $0 == " " }.count
        let depth = rng.pick([5, 100, 255, 300, 600, 1_100])  // libyaml stops at 1 000
        switch rng.below(3) {
        case 0: setValue(String(repeating: "- ", count: depth) + "x")
        case 1: setValue("\n" + String(repeating: "- ", count: depth) + "x")
        default:
            setValue("")
            let ladder = (1...depth).map { String(repeating: " ", count: indent + $0 * rng.pick([1, 2])) + "k\($0):" }
            lines.insert(contentsOf: ladder, at: line + 1)
        }
    }

    /// The "billion laughs": a few anchors whose aliases expand to 10^9 nodes, used as
    /// a value, as a mapping key, or not at all.
    mutating func aliasBomb() {
        let levels = rng.pick([3, 6, 9])
        var definitions = ["x-l0: &l0 [" + Array(repeating: "lol", count: 10).joined(separator: ", ") + "]"]
        for level in 1..<levels {
            definitions.append(
                "x-l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
                    + "]")
        }
        let top = "*l\(levels - 1)"
        let at = lines.firstIndex { $0.hasPrefix("services:") } ?? 0
        lines.insert(contentsOf: definitions, at: at)
        switch rng.below(5) {
        case 0: setValue(top)
        case 1: lines.insert("\(top) : boom", at: at + definitions.count)
        case 2: lines.insert(contentsOf: ["? \(top)", ": boom"], at: at + definitions.count)
        case 3: lines.insert("x-keyed: { [\(top), \(top)]: boom }", at: at + definitions.count)
        default: break
        }
    }

    // MARK: - Vocabulary

    static let knownKeys =
        ServiceParser.commonKeys + ServiceParser.engineKeys + StackLoader.topLevelKeys + ProbeSpec.kindNames
        + [
            "interval", "timeout", "start_timeout", "failures", "identity", "condition", "name", "partitions",
            "replication_factor", "group", "topic",
        ]

    static let foreignValues = [
        "0", "-1", "42", "3.14", "-0", "1e309", "-1e309", ".inf", "-.inf", ".nan", "0x7fffffff", "0o777", "0b101",
        "99999999999999999999999999999", "-9223372036854775808", "9223372036854775807", "18446744073709551616",
        "[]", "[a, b]", "[[1], [2]]", "[\"\"]", "{}", "{a: 1}", "{ condition: ready }", "{condition: [x]}", "null", "~",
        "\"\"", "''",
        "true", "false", "yes", "no", "on", "\"   \"", "-", "- a", "? x", "|", ">-", "|-\n  multi\n  line",
        "!!binary aGVsbG8=",
        "!!int 3", "!!str", "!!map {}", "!!seq []", "!!null ''", "!custom x", "&a x", "*missing", "\"\\u0000\"",
        "\"\\x85\"", "\"\\e\"",
        "…", "🚀", "http://", "127.0.0.1:", ":80", "auto", "AUTO", "sh", "/", "..", "../../../../etc", "/dev/null",
        "\"a\\nb\"",
        "x\u{0}y", "\"#not a comment\"", "a #comment", "[a,, b]", "{a}", "{: x}", "@", "`x`", "%", "x: y", "\"x\": y",
    ]

    static let multilineValues = [
        "|\nline one\n${FUZZ_UNSET", "|\necho ${oops\ndone", ">-\nfolded ${db.url}\ntext", "\"multi\nline ${\"",
        "|\n${a.b.c}\nx",
        "|\n${FUZZ_UNSET:?not\nset}", "|-\n${X:-${Y}\n}", "\n- a\n- b", "\n- [a, b]\n- {c: d}", "\na: 1\nb: 2",
        "\n- ${db.url}\n- ${",
        "|\n  more indented\nless", "|2\n   explicit indent", "'single\n\n  quoted ${'", "\"\\\nescaped break\"",
    ]

    static let interpolations = [
        "${FUZZ_UNSET}", "${FUZZ_UNSET:?is required}", "${FUZZ_UNSET?}", "${FUZZ_EMPTY:?empty}", "${FUZZ_UNSET:+alt}",
        "${db.url}", "${nope.url}", "${db.nope}", "${a.b.c}", "${.}", "${.x}", "${x.}", "${9x}", "${-}", "${:-x}",
        "${X:-${Y:-${Z}}}",
        "${db.url:-x}", "${X:-${db.url}}", "${X!}", "${X:}", "${X:=y}", "${X%%y}", "$$", "$$$", "$", "$1", "${}",
        "${ X }",
        "${X}${Y}${Z}", "${api.port}${api.port}", "${FUZZ_LEVEL:-${FUZZ_LEVEL:-${FUZZ_LEVEL}}}", "${é}", "${X\u{0}}",
        "$é",
    ]

    static let durations = [
        "0s", "0ms", "-1s", "1", "0", "1.5.5s", "1e400s", "99999999999h", "1m30", "ms", ".s", "5 s", "1µs", "1us",
        "1ns",
        "9223372036854775807ns", "1s1s1s", "0.0000001ns", "NaNs", "infs", "1d", "1h1h1h1h1h1h1h1h1h1h",
        "18446744073709551616ms",
        "00000000000001s", "8760h", "8761h", "525600m", "1.s", "1..s", "s", "", "[1s]", "{}", "2S", "2 seconds", "२s",
        "１s",
    ]

    static let ports = [
        "0", "1", "65535", "65536", "-1", "auto", "AUTO", "\" auto\"", "80.5", "0x50", "99999999999999999999", "1_000",
        "+80", "８０",
        "[80]", "{}", "null", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", ":8080", "localhost:-1", "http://",
        "ftp://x", "https://[::1",
    ]

    static let signals = [
        "SIGFOO", "9", "0", "-9", "sigterm", "TERM", "SIG", "\"\"", "999999999999", "SIGRTMIN", "2147483648",
        "-2147483649",
        "SIGKILL", "STOP", "ſigterm", "SIGTERM ", "[SIGTERM]", "15.0", "0x0f",
    ]

    static let paths = [
        "/dev/zero", "/dev/urandom", "/dev/null", "/", ".", "..", "fuzz.env", "service.env", "missing.env",
        "/etc/passwd",
        "/proc/self/status", "[fuzz.env, /dev/zero]", "[/dev/null, /]", "\"\"", "fuzz.env/", "~/x", "${HOME}/fuzz.env",
        "${db.url}",
        "fuzz.env\u{0}", "./././fuzz.env", "../../../../../../../../dev/zero",
    ]

    static let numbers = [
        "0", "-1", "1", "1000", "1001", "10000", "10001", "1000000", "1000001", "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809", "1.0", "1e3", "0x10", "\"5\"", "five", "", "[5]",
    ]

    static let yamlSnippets = [
        "---", "...", "%YAML 1.2", "&anchor", "*undefined", "!!set", "<<: *grace", "? complex", ": value", "- item",
        "#", "'", "\"",
        "|", ">", "@reserved", "`tick", "%", "!", "&", "*", "  services:", "services:", "services: {}", "services: []",
        "name: x y",
        "name: \"\"", "env_file: missing.env", "env_file: /", "env_file: [fuzz.env, /dev/null]", "env: [A]",
        "env: [=x]",
        "? [a, b]\n: c", "{a: 1}: b", "[a]: b", "!!map", "!<tag:yaml.org,2002:str> x", "x-ext: &x {a: 1}", "key: &a *a",
        "\t", " \t ", "\u{FEFF}name: bom", "a: b: c", "- - -", "? ? ?", "{", "}", "[", "]",
    ]
}
