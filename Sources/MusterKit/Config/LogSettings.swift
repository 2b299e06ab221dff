import Foundation
import Yams

/// How large a service's log may grow: `NAME.log` up to `maxSize` bytes, then it
/// rotates to `NAME.log.1` .. `NAME.log.N` (N = `maxFiles`, the oldest dropped).
/// Set for the whole stack (top-level `logs:`) and per service, field by field;
/// a service that prints without pause must not fill the disk Postgres writes to.
public struct LogSettings: Hashable, Sendable {
    public var maxSize: Int?
    public var maxFiles: Int?

    public init(maxSize: Int? = nil, maxFiles: Int? = nil) {
        self.maxSize = maxSize
        self.maxFiles = maxFiles
    }

    public static let defaultMaxSize = 64 << 20
    public static let defaultMaxFiles = 3

    /// This service's settings, each unset field taken from the stack's, then the default.
    public func resolved(over stack: LogSettings) -> (maxSize: Int, maxFiles: Int) {
        (maxSize ?? stack.maxSize ?? Self.defaultMaxSize, maxFiles ?? stack.maxFiles ?? Self.defaultMaxFiles)
    }

    public static let keys = ["max_size", "max_files"]
    static let sizeRange = 1024...(1 << 40)
    static let filesRange = 0...100
}

/// Byte sizes as people write them: `64MB`, `512KB`, `1GB`, `10m` (compose), `4096`.
/// Units are powers of 1024, as in docker's `max-size`.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard !digits.isEmpty, let number = Double(digits), number >= 0 else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kb", "kib": scale = 1024
        case "m", "mb", "mib": scale = 1024 * 1024
        case "g", "gb", "gib": scale = 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = number * scale
        guard bytes < 9.0e18 else { return nil }
        return Int(bytes)
    }

    /// `64MB`, `512KB`, `100B`: the largest unit that divides evenly.
    public static func format(_ bytes: Int) -> String {
        for (unit, size) in [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)] where bytes >= size && bytes % size == 0
        {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }
}

extension YAMLReader {
    /// `logs: { max_size: 64MB, max_files: 3 }`.
    func logSettings(_ node: Node, what: String) throws -> LogSettings {
        var settings = LogSettings()
        for pair in try mapping(node, what: what, allowed: LogSettings.keys) {
            let field = "\(what).\(pair.key)"
            switch pair.key {
            case "max_size":
                let text = try string(pair.value, what: field)
                guard let bytes = ByteSize.parse(text) else {
                    throw fail("\(field) must be a size such as 64MB, 512KB or 1GB, not \"\(text)\"", pair.value)
                }
                guard LogSettings.sizeRange.contains(bytes) else {
                    throw fail("\(field) must be between 1KB and 1024GB, not \(text)", pair.value)
                }
                settings.maxSize = bytes
            case "max_files":
                settings.maxFiles = try int(pair.value, what: field, range: LogSettings.filesRange)
            default: break
            }
        }
        return settings
    }
}
