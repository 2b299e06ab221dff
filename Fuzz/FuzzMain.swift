import Foundation

/// The libFuzzer entry point of `muster-fuzz` (built by scripts/fuzz, never by
/// SwiftPM). One binary holds every target, so the decoders are compiled and
/// instrumented once; MUSTER_FUZZ_TARGET names the one a run exercises, and
/// each target keeps its own corpus under Tests/Fixtures/fuzz/TARGET.
enum FuzzTargets {
    static let all: [String: ([UInt8]) -> Void] = [
        "postgres": fuzzPostgres,
        "scram": fuzzSCRAM,
        "kafka-api-versions": { fuzzKafka(.apiVersions, $0) },
        "kafka-metadata": { fuzzKafka(.metadata, $0) },
        "kafka-create-topics": { fuzzKafka(.createTopics, $0) },
        "kafka-find-coordinator": { fuzzKafka(.findCoordinator, $0) },
        "kafka-describe-groups": { fuzzKafka(.describeGroups, $0) },
        "resp": fuzzRESP,
        "http": fuzzHTTP,
        "http-response": fuzzHTTPResponse,
        "events": fuzzEvents,
        "stack": fuzzStack,
        "test-reports": fuzzTestReports,
        "control": fuzzControl,
    ]

    static let selected: ([UInt8]) -> Void = {
        let name = ProcessInfo.processInfo.environment["MUSTER_FUZZ_TARGET"] ?? ""
        guard let target = all[name] else {
            let known = all.keys.sorted().joined(separator: ", ")
            FileHandle.standardError.write(Data("muster-fuzz: set MUSTER_FUZZ_TARGET to one of: \(known)\n".utf8))
            exit(2)
        }
        return target
    }()
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
    _ = FuzzTargets.selected
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTargets.selected(bytes)
    return 0
}
