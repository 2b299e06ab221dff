/// A peer on the port that broke its protocol: garbage, a message cut short, a
/// length past what muster accepts, or a close partway through.
///
/// Whatever answers on a probed port may be another program, a half-started server
/// or a hostile one, so every decoder fails with this instead of trapping, and the
/// text (`kafka: Metadata response truncated at byte 41 of 96`) names the protocol
/// and what was wrong: it is what the probe's reason and the event log show.
public struct ProtocolError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Problem: Sendable, Equatable {
        /// Bytes that are not the protocol's.
        case malformed
        /// A message that ended (or stalled) before its declared length.
        case truncated
        /// A length past what muster accepts from a peer.
        case tooLarge
        /// The peer closed the connection where an answer was due.
        case closed
        /// No answer came within the time limit.
        case stalled
    }

    /// `postgres`, `redis`, `kafka`, `http`.
    public let protocolName: String
    public let problem: Problem
    public let detail: String

    public init(_ protocolName: String, _ problem: Problem, _ detail: String) {
        self.protocolName = protocolName
        self.problem = problem
        self.detail = detail
    }

    public var description: String { "\(protocolName): \(detail)" }

    /// Largest single message muster reads from a peer. Its own exchanges are a few
    /// KiB; a bigger length means another protocol on the port, or a hostile peer.
    public static let maxMessageSize = 8 << 20

    /// Bytes shown as printable text with escapes, for a message about garbage.
    static func quoted(_ bytes: some Collection<UInt8>, limit: Int = 24) -> String {
        var text = ""
        for byte in bytes.prefix(limit) {
            switch byte {
            case 0x20..<0x7f where byte != 0x22 && byte != 0x5c: text.append(Character(Unicode.Scalar(byte)))
            case 0x0d: text += "\\r"
            case 0x0a: text += "\\n"
            default: text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
            }
        }
        return "\"" + text + (bytes.count > limit ? "…" : "") + "\""
    }
}
