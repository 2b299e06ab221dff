import Foundation
import Testing
@testable import MusterKit

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
