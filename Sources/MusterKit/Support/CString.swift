extension String {
    /// The text of a C buffer filled by a C function: up to its first NUL, as UTF-8
    /// (invalid bytes become U+FFFD).
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
