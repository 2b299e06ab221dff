/// How a process ended.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case let .exited(code): return "exited with code \(code)"
        case let .signaled(signal): return "killed by \(SignalName.name(of: signal))"
        }
    }

    /// Shell convention: 128 + signal for a signalled process.
    public var shellCode: Int32 {
        switch self {
        case let .exited(code): return code
        case let .signaled(signal): return 128 + signal
        }
    }
}
