import Foundation

/// The escapes of JSON strings (`\n`, `\"`, `\u00e9`, surrogate pairs), decoded for
/// `JSONCursor.string()` and checked for `skip()`.
extension JSONCursor {
    /// Decodes the escape after a backslash, at `index` (moved past it), into `decoded`;
    /// a `\u` escape of a surrogate pair is one scalar, a lone surrogate U+FFFD.
    static func unescape(_ bytes: UnsafeRawBufferPointer, at index: inout Int, into decoded: inout [UInt8]) throws {
        guard index < bytes.count else { throw Failure(what: "unexpected end of text in a string", offset: index) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(8)
        case UInt8(ascii: "f"): decoded.append(12)
        case UInt8(ascii: "n"): decoded.append(10)
        case UInt8(ascii: "r"): decoded.append(13)
        case UInt8(ascii: "t"): decoded.append(9)
        case UInt8(ascii: "u"):
            var scalar = try hex4(bytes, at: &index)
            if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count,
                bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            {
                let mark = index
                index += 2
                let low = try hex4(bytes, at: &index)
                if (0xDC00..<0xE000).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    index = mark  // not a pair: the second escape stands on its own
                }
            }
            decoded.append(contentsOf: Array((Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8))
        default:
            index -= 1
            throw Failure(what: "an unknown escape '\\\(Character(Unicode.Scalar(byte)))' in a string", offset: index)
        }
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, at index: inout Int) throws -> UInt32 {
        guard index + 4 <= bytes.count else {
            throw Failure(what: "unexpected end of text in a \\u escape", offset: index)
        }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Failure(what: "a \\u escape needs four hex digits", offset: index)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
