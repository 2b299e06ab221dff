import Foundation

/// A pull reader of JSON text (RFC 8259) over bytes in memory, for the large
/// test reports `muster run --tests` reads (a Playwright report of 100 000 tests
/// is 28 MB; go test -json output of as many is 40 MB).
///
/// Why not `JSONDecoder`: on this machine Foundation's decoder reads about
/// 15 MB/s (2.0 s for the 28 MB report, 1.7 s for the 300 000 lines of the go
/// stream decoded one by one) and the target is 100 000 tests in under 1 s
/// (BENCHMARKS.md, "Test attribution"). No faster JSON library is in the package
/// mirror. This reader validates the whole grammar (strings, escapes, numbers,
/// literals, nesting up to `maxDepth`) but builds nothing the caller does not
/// ask for: values it is not asked for are checked and skipped. Fuzzed by the
/// `test-reports` target of scripts/fuzz against `JSONSerialization`.
///
/// Use: `var members = try cursor.beginObject(); while let key = try cursor.nextKey(&members) { ... }`
/// where each member's value must be read or skipped before the next key.
struct JSONCursor {
    enum Kind { case object, array, string, number, bool, null }

    /// Between the members of one object or the elements of one array.
    struct Container { fileprivate var first = true }

    static let maxDepth = 256

    let bytes: UnsafeRawBufferPointer
    private(set) var index = 0
    private var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: - Structure

    /// What the next value is (nil: end of text or a byte no value starts with).
    mutating func kind() -> Kind? {
        skipSpace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: return nil
        }
    }

    mutating func beginObject() throws -> Container {
        try open(UInt8(ascii: "{"), "an object")
        return Container()
    }

    /// The next member's key, or nil after the closing brace.
    mutating func nextKey(_ container: inout Container) throws -> String? {
        skipSpace()
        if try close(UInt8(ascii: "}"), &container) { return nil }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
            throw fail(
                index < bytes.count ? "expected a key (a string) or '}'" : "unexpected end of text; expected a key")
        }
        let key = try string()
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
        index += 1
        return key
    }

    mutating func beginArray() throws -> Container {
        try open(UInt8(ascii: "["), "an array")
        return Container()
    }

    /// Whether another element follows (false after the closing bracket).
    mutating func nextElement(_ container: inout Container) throws -> Bool {
        skipSpace()
        return try !close(UInt8(ascii: "]"), &container)
    }

    /// Nothing but white space is left.
    mutating func end() throws {
        skipSpace()
        guard index == bytes.count else { throw fail("unexpected text after the value") }
    }

    private mutating func open(_ bracket: UInt8, _ what: String) throws {
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end of text; expected \(what)") }
        guard bytes[index] == bracket else { throw mismatch(what) }
        guard depth < Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
        depth += 1
        index += 1
    }

    /// Consumes the closing bracket (true) or the comma before the next item (false).
    private mutating func close(_ bracket: UInt8, _ container: inout Container) throws -> Bool {
        guard index < bytes.count else { throw fail("unexpected end of text") }
        if bytes[index] == bracket {
            index += 1
            depth -= 1
            return true
        }
        if container.first {
            container.first = false
        } else {
            guard bytes[index] == UInt8(ascii: ",") else {
                throw fail(bracket == UInt8(ascii: "}") ? "expected ',' or '}'" : "expected ',' or ']'")
            }
            index += 1
            skipSpace()
            // `[1,]` and `{"a":1,}` are not JSON, but Foundation's reader (muster's before
            // this one) takes them: so does this one, and a report that did is still read.
            if index < bytes.count, bytes[index] == bracket {
                index += 1
                depth -= 1
                return true
            }
        }
        return false
    }

    // MARK: - Values

    /// A string value, its escapes decoded (a lone surrogate becomes U+FFFD).
    mutating func string() throws -> String {
        skipSpace()
        guard index < bytes.count else { throw fail("unexpected end of text; expected a string") }
        guard bytes[index] == UInt8(ascii: "\"") else { throw mismatch("a string") }
        index += 1
        let start = index
        // The common case: no escape, one copy.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw fail("a control character in a string") }
            index += 1
        }
        guard index < bytes.count else { throw fail("unexpected end of text in a string") }
        var decoded = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try Self.unescape(bytes, at: &index, into: &decoded)
            case ..<0x20:
                index -= 1
                throw fail("a control character in a string")
            default:
                decoded.append(byte)
            }
        }
        throw fail("unexpected end of text in a string")
    }

    /// A number value.
    mutating func number() throws -> Double {
        let (start, integral) = try scanNumber()
        let length = index - start
        if integral, length <= 18 {
            var value = 0
            var negative = false
            for offset in start..<index {
                let byte = bytes[offset]
                if byte == UInt8(ascii: "-") {
                    negative = true
                } else {
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                }
            }
            return Double(negative ? -value : value)
        }
        let value = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for offset in 0..<length { buffer[offset] = CChar(bitPattern: bytes[start + offset]) }
            buffer[length] = 0
            return strtod(buffer.baseAddress!, nil)
        }
        // 1e400: well-formed, but no Double holds it (Foundation refuses it too).
        guard value.isFinite else { throw Failure(what: "a number out of range", offset: start) }
        return value
    }

    /// A number value that is a whole number in Int's range.
    mutating func integer() throws -> Int {
        let start = index
        let value = try number()
        guard value.rounded() == value, let whole = Int(exactly: value) else {
            index = start
            throw mismatch("a whole number")
        }
        return whole
    }

    /// A number value, with the Int it is when written as a whole number (no fraction,
    /// no exponent) that fits one: `JSONValue` keeps `7` an integer and `7.0` a double.
    mutating func wholeOrFractional() throws -> (value: Double, whole: Int?) {
        skipSpace()
        let start = index
        let integral = try scanNumber().integral
        let end = index
        index = start
        let value = try number()
        guard integral else { return (value, nil) }
        var whole = 0
        for offset in start..<end where bytes[offset] != UInt8(ascii: "-") {
            let (times, overflowed) = whole.multipliedReportingOverflow(by: 10)
            let (sum, carried) = times.addingReportingOverflow(Int(bytes[offset] - UInt8(ascii: "0")))
            if overflowed || carried { return (value, nil) }
            whole = sum
        }
        return (value, bytes[start] == UInt8(ascii: "-") ? -whole : whole)
    }

    /// What `data` holds when it is one well-formed JSON value; nil when it is not JSON.
    static func kind(ofWhole data: Data) -> Kind? {
        data.withUnsafeBytes { bytes in
            var cursor = JSONCursor(bytes)
            guard let kind = cursor.kind(), (try? cursor.skip()) != nil, (try? cursor.end()) != nil else { return nil }
            return kind
        }
    }

    mutating func bool() throws -> Bool {
        skipSpace()
        if try literal("true") { return true }
        if try literal("false") { return false }
        throw mismatch("true or false")
    }

    /// Consumes `null` when it comes next.
    mutating func null() throws -> Bool {
        skipSpace()
        return try literal("null")
    }

    /// Checks and passes over the next value, whatever it is.
    mutating func skip() throws {
        switch kind() {
        case .object?:
            var members = try beginObject()
            while try nextKey(&members) != nil { try skip() }
        case .array?:
            var elements = try beginArray()
            while try nextElement(&elements) { try skip() }
        case .string?:
            try skipString()
        case .number?:
            _ = try number()
        case .bool?:
            _ = try bool()
        case .null?:
            guard try null() else { throw fail("expected a value") }
        case nil:
            throw index < bytes.count ? fail("expected a value") : fail("unexpected end of text; expected a value")
        }
    }

    private mutating func skipString() throws {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return }
            if byte == UInt8(ascii: "\\") {
                var ignored: [UInt8] = []
                try Self.unescape(bytes, at: &index, into: &ignored)
            } else if byte < 0x20 {
                index -= 1
                throw fail("a control character in a string")
            }
        }
        throw fail("unexpected end of text in a string")
    }

    /// Passes over `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`; its start and whether it is integral.
    private mutating func scanNumber() throws -> (start: Int, integral: Bool) {
        skipSpace()
        let start = index
        var integral = true
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else {
            index = start
            throw start < bytes.count && bytes[start] != UInt8(ascii: "-") && !isDigit(bytes[start])
                ? mismatch("a number") : fail("a malformed number")
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard try digits() else { throw fail("a malformed number") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            integral = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard try digits() else { throw fail("a malformed number") }
        }
        return (start, integral)
    }

    private mutating func digits() throws -> Bool {
        let first = index
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        return index > first
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func literal(_ word: StaticString) throws -> Bool {
        let count = word.utf8CodeUnitCount
        guard index < bytes.count, bytes[index] == word.utf8Start[0] else { return false }
        guard index + count <= bytes.count, memcmp(bytes.baseAddress! + index, word.utf8Start, count) == 0 else {
            throw fail("a malformed literal (true, false or null)")
        }
        index += count
        return true
    }

    private mutating func skipSpace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }
}
