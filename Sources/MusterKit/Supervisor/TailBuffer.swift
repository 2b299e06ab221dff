/// The last bytes a service wrote, kept so failures can show their last lines
/// without reading the log file back. Bounded: a chatty service costs nothing extra.
public struct TailBuffer: Sendable {
    public let capacity: Int
    private var bytes: [UInt8] = []

    public init(capacity: Int = 32 * 1024) {
        self.capacity = capacity
        bytes.reserveCapacity(capacity)
    }

    public mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if chunk.count >= capacity {
            bytes = Array(chunk[(chunk.count - capacity)...])
            return
        }
        let overflow = bytes.count + chunk.count - capacity
        if overflow > 0 { bytes.removeFirst(overflow) }
        bytes.append(contentsOf: chunk)
    }

    public mutating func append(_ chunk: [UInt8]) {
        chunk.withUnsafeBytes { append($0) }
    }

    /// Up to `count` complete or trailing lines, oldest first.
    public func lastLines(_ count: Int) -> [String] {
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        if lines.last == "" { lines.removeLast() }
        // The first line may be cut in the middle once the buffer has wrapped.
        if bytes.count >= capacity, lines.count > 1 { lines.removeFirst() }
        return Array(lines.suffix(count))
    }
}
