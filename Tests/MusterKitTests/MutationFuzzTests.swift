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
