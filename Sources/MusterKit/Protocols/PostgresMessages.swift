/// The frontend/backend protocol's framing: a backend message (type byte, length,
/// body), built and read field by field.
extension PostgresConnection {
    struct Message {
        let type: Character
        let body: [UInt8]

        var reader: Reader { Reader(bytes: body, type: type) }

        /// The type and length of a backend message from its 5-byte header; the
        /// length is checked before anything is allocated for the body.
        static func header(_ bytes: [UInt8]) throws -> (Character, Int) {
            let length = Int(Int32(bigEndian: bytes[1...4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
            let type = Character(Unicode.Scalar(bytes[0]))
            guard
                (0x30...0x39).contains(bytes[0]) || (0x41...0x5a).contains(bytes[0]) || (0x61...0x7a).contains(bytes[0])
            else {
                throw ProtocolError(
                    "postgres", .malformed,
                    "not a backend message: got \(ProtocolError.quoted(bytes)); not a Postgres server?")
            }
            guard length >= 4 else {
                throw ProtocolError(
                    "postgres", .malformed,
                    "'\(type)' message with length \(length), below the 4 of its own length field")
            }
            guard length <= ProtocolError.maxMessageSize else {
                throw ProtocolError(
                    "postgres", .tooLarge,
                    "'\(type)' message of \(length) bytes, above the \(ProtocolError.maxMessageSize >> 20) MiB muster accepts (got \(ProtocolError.quoted(bytes))); not a Postgres server?"
                )
            }
            return (type, length)
        }

        static func int32(_ value: Int32) -> [UInt8] {
            withUnsafeBytes(of: value.bigEndian) { Array($0) }
        }

        static func frame(_ type: Character, _ body: [UInt8]) -> [UInt8] {
            [type.asciiValue!] + int32(Int32(body.count + 4)) + body
        }

        func dataRow() throws -> [String?] {
            var reader = self.reader
            let count = try reader.int16()
            guard count >= 0 else { throw ProtocolError("postgres", .malformed, "'D' message with \(count) columns") }
            return try (0..<count).map { _ in
                let length = try reader.int32()
                return length < 0 ? nil : String(decoding: try reader.bytes(Int(length)), as: UTF8.self)
            }
        }

        /// "SEVERITY:  message" as libpq prints it, with the detail and hint if any.
        func errorText() -> String {
            var fields: [Character: String] = [:]
            var reader = self.reader
            while let code = reader.byte(), code != 0 {
                fields[Character(Unicode.Scalar(code))] = reader.string()
            }
            var text = "\(fields["V"] ?? fields["S"] ?? "ERROR"):  \(fields["M"] ?? "unknown error")"
            if let detail = fields["D"] { text += " (\(detail))" }
            if let hint = fields["H"] { text += "; hint: \(hint)" }
            return text
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var type: Character = "?"
        var offset = 0

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            guard count >= 0, count <= bytes.count - offset else {
                throw ProtocolError(
                    "postgres", .truncated,
                    "'\(type)' message truncated at byte \(offset) of \(bytes.count) (a field of \(count) bytes)")
            }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        mutating func int32() throws -> Int32 {
            let raw = try bytes(4)
            return Int32(bitPattern: UInt32(raw[0]) << 24 | UInt32(raw[1]) << 16 | UInt32(raw[2]) << 8 | UInt32(raw[3]))
        }

        mutating func int16() throws -> Int {
            let raw = try bytes(2)
            return Int(Int16(bitPattern: UInt16(raw[0]) << 8 | UInt16(raw[1])))
        }

        mutating func string() -> String {
            let end = bytes[offset...].firstIndex(of: 0) ?? bytes.count
            defer { offset = min(bytes.count, end + 1) }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }

        /// Zero-terminated strings up to an empty one (SASL mechanisms).
        mutating func strings() -> [String] {
            var all: [String] = []
            while offset < bytes.count {
                let next = string()
                if next.isEmpty { break }
                all.append(next)
            }
            return all
        }

        mutating func rest() -> [UInt8] {
            defer { offset = bytes.count }
            return Array(bytes[offset...])
        }
    }
}
