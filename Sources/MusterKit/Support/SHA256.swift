import CMusterShims

/// SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and PBKDF2-HMAC-SHA-256
/// (RFC 8018): what SCRAM-SHA-256 needs to log in to Postgres with a password.
/// The work is done in C (sha256.c).
public enum SHA256 {
    public static let digestSize = 32

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: digestSize)
        muster_sha256(bytes, bytes.count, &digest)
        return digest
    }

    /// HMAC-SHA-256 of `message` under `key`.
    public static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: digestSize)
        muster_hmac_sha256(key, key.count, message, message.count, &mac)
        return mac
    }

    /// PBKDF2-HMAC-SHA-256 with one block of output (SCRAM's `Hi`).
    public static func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: digestSize)
        muster_pbkdf2_sha256(password, password.count, salt, salt.count, UInt32(clamping: max(1, iterations)), &output)
        return output
    }
}
