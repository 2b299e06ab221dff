import Foundation

/// `MUSTER_TRACE=1`: milliseconds since the process started, per phase, on stderr.
/// For profiling start-up (scripts/bench); off by default and then free.
public enum Trace {
    static let enabled = ProcessInfo.processInfo.environment["MUSTER_TRACE"] == "1"
    static let origin = ContinuousClock.now

    public static func start() { _ = origin }

    public static func mark(_ phase: @autoclosure () -> String) {
        guard enabled else { return }
        let ms = ((ContinuousClock.now - origin).seconds * 10_000).rounded() / 10
        FileHandle.standardError.write(Data("trace \(getpid()) +\(ms)ms \(phase())\n".utf8))
    }
}
