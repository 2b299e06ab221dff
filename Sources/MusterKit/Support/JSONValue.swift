import Foundation

/// A JSON value whose type is known: what muster writes as JSON where no `Codable`
/// type fits (the merged run report carries each shard's fields as they were read,
/// `config --json` mixes fields of many kinds), and the one writer of JSON text muster
/// owns: `text` is compact with members in the order given (an `events.jsonl` line),
/// `prettyText` indents by two spaces and sorts members by key (the merged report).
/// Read with `JSONValue.parse`, over `JSONCursor`.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in the order they were read or added.
    case object([Member])

    public struct Member: Equatable, Sendable {
        public var key: String
        public var value: JSONValue

        public init(_ key: String, _ value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    // MARK: - Reading

    /// The whole text as one value; throws `JSONCursor.Failure` for anything that is not JSON.
    public static func parse(_ data: Data) throws -> JSONValue {
        try data.withUnsafeBytes { bytes in
            var cursor = JSONCursor(bytes)
            let value = try read(&cursor)
            try cursor.end()
            return value
        }
    }

    static func read(_ cursor: inout JSONCursor) throws -> JSONValue {
        switch cursor.kind() {
        case .object?:
            var members: [Member] = []
            var container = try cursor.beginObject()
            while let key = try cursor.nextKey(&container) { members.append(Member(key, try read(&cursor))) }
            return .object(members)
        case .array?:
            var elements: [JSONValue] = []
            var container = try cursor.beginArray()
            while try cursor.nextElement(&container) { elements.append(try read(&cursor)) }
            return .array(elements)
        case .string?:
            return .string(try cursor.string())
        case .number?:
            let number = try cursor.wholeOrFractional()
            return number.whole.map(JSONValue.int) ?? .double(number.value)
        case .bool?:
            return .bool(try cursor.bool())
        case .null?:
            guard try cursor.null() else { throw cursor.fail("expected a value") }
            return .null
        case nil:
            throw cursor.fail("expected a value")
        }
    }

    /// A member of an object (the first of that key); nil for anything else.
    public subscript(key: String) -> JSONValue? {
        get {
            guard case let .object(members) = self else { return nil }
            return members.first { $0.key == key }?.value
        }
        set {
            guard case var .object(members) = self else { return }
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append(Member(key, newValue))
            }
            self = .object(members)
        }
    }

    public var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    public var intValue: Int? {
        if case let .int(number) = self { return number }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(flag) = self { return flag }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(elements) = self { return elements }
        return nil
    }

    public var objectMembers: [Member]? {
        if case let .object(members) = self { return members }
        return nil
    }

    // MARK: - Writing

    /// Compact, members in their order: `{"seq":1,"type":"ready"}`.
    public var text: String {
        var out = ""
        writeCompact(to: &out)
        return out
    }

    /// Two spaces of indentation, `"key": value`, members sorted by key, and a final newline.
    public var prettyText: String {
        var out = ""
        out.reserveCapacity(1 << 16)
        writePretty(indent: 0, to: &out)
        out += "\n"
        return out
    }

    private func writeCompact(to out: inout String) {
        switch self {
        case let .array(elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.writeCompact(to: &out)
            }
            out += "]"
        case let .object(members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                out += Self.quoted(member.key)
                out += ":"
                member.value.writeCompact(to: &out)
            }
            out += "}"
        default:
            writeScalar(to: &out)
        }
    }

    private func writePretty(indent: Int, to out: inout String) {
        switch self {
        case let .array(elements):
            guard !elements.isEmpty else { out += "[]"; return }
            let inner = String(repeating: "  ", count: indent + 1)
            out += "[\n"
            for (index, element) in elements.enumerated() {
                if index > 0 { out += ",\n" }
                out += inner
                element.writePretty(indent: indent + 1, to: &out)
            }
            out += "\n" + String(repeating: "  ", count: indent) + "]"
        case let .object(members):
            guard !members.isEmpty else { out += "{}"; return }
            let inner = String(repeating: "  ", count: indent + 1)
            out += "{\n"
            for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out += ",\n" }
                out += inner
                out += Self.quoted(member.key)
                out += ": "
                member.value.writePretty(indent: indent + 1, to: &out)
            }
            out += "\n" + String(repeating: "  ", count: indent) + "}"
        default:
            writeScalar(to: &out)
        }
    }

    private func writeScalar(to out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(flag): out += flag ? "true" : "false"
        case let .int(number): out += String(number)
        case let .double(number): out += number.isFinite ? "\(number)" : "null"
        case let .string(text): out += Self.quoted(text)
        case .array, .object: writeCompact(to: &out)
        }
    }

    /// A JSON string. YAML's double-quoted form, with its escapes, is valid JSON, so
    /// both writers share one quoting routine.
    public static func quoted(_ text: String) -> String {
        YAMLText.quoted(text)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members in the order written.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { Member($0.0, $0.1) })
    }
    public init(nilLiteral: ()) { self = .null }
}

/// Encodes as the JSON it is, so a `Codable` type can define its fields once as a
/// `JSONValue` and be written both by `text` and by `JSONEncoder` (`ServiceEvent`).
extension JSONValue: Encodable {
    struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case let .bool(flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case let .int(number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case let .double(number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case let .string(text):
            var container = encoder.singleValueContainer()
            try container.encode(text)
        case let .array(elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(element) }
        case let .object(members):
            var container = encoder.container(keyedBy: MemberKey.self)
            for member in members { try container.encode(member.value, forKey: MemberKey(member.key)) }
        }
    }
}
