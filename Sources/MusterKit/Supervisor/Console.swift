import Foundation

/// Serialised writes of whole chunks to a terminal or pipe, so lines of different
/// services never interleave mid-line.
/// Unchecked: every write happens under its lock.
public final class Console: @unchecked Sendable {
    public static let standardOutput = Console(fd: STDOUT_FILENO)
    public static let standardError = Console(fd: STDERR_FILENO)

    public let fd: Int32
    /// Colour and live progress: a terminal, and `NO_COLOR` unset.
    public let isInteractive: Bool
    private let lock = NSLock()

    public init(fd: Int32, interactive: Bool? = nil) {
        self.fd = fd
        let env = ProcessInfo.processInfo.environment
        self.isInteractive = interactive ?? (isatty(fd) == 1 && env["NO_COLOR"] == nil && env["TERM"] != "dumb")
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        lock.lock()
        defer { lock.unlock() }
        var offset = 0
        while offset < bytes.count {
            let written = POSIX.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return  // EPIPE and friends: the reader went away; never block the service on it
            }
            offset += written
        }
    }

    public func write(_ text: String) {
        var copy = text
        copy.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    public func line(_ text: String) { write(text + "\n") }

    /// ANSI colouring when interactive.
    public func paint(_ text: String, _ style: Style) -> String {
        isInteractive ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    public enum Style: String, Sendable {
        case red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
        case bold = "1", dim = "2", boldRed = "1;31", boldGreen = "1;32"
    }

    /// The palette for service prefixes.
    public static let palette: [Style] = [.cyan, .yellow, .green, .magenta, .blue, .red]
}

/// `name │ ` padded to the widest name, coloured on a terminal.
public struct LinePrefix: Sendable {
    public let bytes: [UInt8]

    public init(name: String, width: Int, style: Console.Style?, console: Console) {
        let padded = name.padding(toLength: max(width, name.count), withPad: " ", startingAt: 0)
        let text = style.map { console.paint(padded + " │", $0) + " " } ?? padded + " │ "
        bytes = Array(text.utf8)
    }
}
