/// Masks secrets for `config`, `ps`, events and logs: values of keys that look
/// secret, and passwords inside URLs (`scheme://user:***@host`).
public enum Secrets {
    public static let mask = "***"
    static let secretWords = ["PASSWORD", "SECRET", "TOKEN", "KEY", "PASSWD", "CREDENTIAL"]

    public static func isSecretKey(_ key: String) -> Bool {
        let upper = key.uppercased()
        return secretWords.contains { upper.contains($0) }
    }

    /// The value to show for `key`.
    public static func display(key: String, value: String) -> String {
        isSecretKey(key) && !value.isEmpty ? mask : mask(value)
    }

    /// Replaces the password part of every `scheme://user:password@` in the text.
    public static func mask(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == " " || $0 == "\"" || $0 == "\n" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result += authority[...colon] + mask + authority[at...]
            } else {
                result += authority
            }
            rest = rest[authorityEnd...]
        }
        return result + rest
    }
}
