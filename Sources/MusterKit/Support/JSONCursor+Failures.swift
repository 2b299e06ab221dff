import Foundation

/// What a `JSONCursor` says when the text is not the JSON asked for: where (a byte
/// offset, and its line and column for a message about a file) and what was wrong,
/// malformed text or a well-formed value of another type.
extension JSONCursor {
    /// Malformed JSON, or a value of another type than the caller asked for.
    struct Failure: Error, CustomStringConvertible {
        var what: String
        /// Byte offset into the text.
        var offset: Int
        var description: String { "\(what) at byte \(offset)" }
    }

    func fail(_ what: String) -> Failure {
        Failure(what: what, offset: index)
    }

    /// A well-formed value of another type than asked for (or a byte that starts no value).
    func mismatch(_ expected: String) -> Failure {
        guard index < bytes.count else { return fail("unexpected end of text; expected \(expected)") }
        let found: String
        switch bytes[index] {
        case UInt8(ascii: "{"): found = "an object"
        case UInt8(ascii: "["): found = "an array"
        case UInt8(ascii: "\""): found = "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): found = "true or false"
        case UInt8(ascii: "n"): found = "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = "a number"
        default: return fail("expected a value")
        }
        return Failure(what: "expected \(expected), found \(found)", offset: index)
    }

    /// Whether a failure is a type mismatch in well-formed JSON (rather than malformed text).
    static func isMismatch(_ failure: Failure) -> Bool {
        failure.what.hasPrefix("expected ") && failure.what.contains(", found ")
    }

    /// 1-based line and column of a byte offset, for messages about a file.
    func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1, lineStart = 0
        for at in 0..<min(offset, bytes.count) where bytes[at] == 10 {
            line += 1
            lineStart = at + 1
        }
        return (line, offset - lineStart + 1)
    }
}
