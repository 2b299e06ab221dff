import Foundation

/// A position in a stack file, printed as `FILE:LINE:COLUMN`.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of muster: a code that decides the exit status, one line for
/// people (what, where, what to do), and optional details printed after it.
///
/// - Important: keep `message` to a single line; put log tails and hints in `details`.
public struct MusterError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The stack file is invalid: nothing was started (exit 2).
        case invalidStack
        /// The command line is wrong (exit 2).
        case usage
        /// A service failed to start, become ready or stay up (exit 1).
        case serviceFailed
        /// A fixed port is taken (exit 1).
        case portInUse
        /// The machine refused something: a file, a directory, a user (exit 1).
        case environment
        /// Another supervisor already runs this project (exit 1).
        case alreadyRunning
        /// The project is not running (exit 1).
        case notRunning
    }

    public var code: Code
    public var message: String
    public var location: SourceLocation?
    public var details: [String]

    public init(_ code: Code, _ message: String, at location: SourceLocation? = nil, details: [String] = []) {
        self.code = code
        self.message = message
        self.location = location
        self.details = details
    }

    /// The first line: `FILE:LINE:COLUMN: message` when the error has a place.
    public var headline: String {
        if let location { return "\(location): \(message)" }
        return message
    }

    public var description: String {
        ([headline] + details).joined(separator: "\n")
    }

    /// The process exit status this error maps to (SPEC "Exit codes").
    public var exitCode: Int32 {
        switch code {
        case .invalidStack, .usage: return 2
        default: return 1
        }
    }

    static func invalid(_ message: String, at location: SourceLocation?) -> MusterError {
        MusterError(.invalidStack, message, at: location)
    }
}
