import Crypto
import CryptoExtras
import Foundation

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as Postgres speaks it:
/// no channel binding (`n,,`), and an empty user name in the first message (the
/// startup packet already named the user).
struct SCRAMClient {
    let password: String
    let clientNonce: String

    init(password: String, clientNonce: String? = nil) {
        self.password = password
        if let clientNonce {
            self.clientNonce = clientNonce
        } else {
            var generator = SystemRandomNumberGenerator()
            self.clientNonce = Data((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) })
                .base64EncodedString()
        }
    }

    var clientFirstBare: String { "n=,r=\(clientNonce)" }
    var clientFirstMessage: String { "n,," + clientFirstBare }

    /// The server's first message, read and checked: its nonce, salt and
    /// iteration count, before any work is spent on them.
    func serverFirstFields(_ serverFirst: String) throws -> (nonce: String, salt: Data, iterations: Int) {
        var fields: [Character: String] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 && part.dropFirst().first == "=" {
            fields[part.first!] = String(part.dropFirst(2))
        }
        guard let nonce = fields["r"], nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw NetworkError("SCRAM: the server's nonce does not extend ours")
        }
        guard let saltText = fields["s"], let salt = Data(base64Encoded: saltText) else {
            throw NetworkError("SCRAM: the server sent no usable salt")
        }
        guard let iterationText = fields["i"], let iterations = Int(iterationText),
            (1...10_000_000).contains(iterations)
        else {
            throw NetworkError("SCRAM: the server sent no usable iteration count")
        }
        return (nonce, salt, iterations)
    }

    /// The final message, and the server signature to expect in return.
    func clientFinal(serverFirst: String) throws -> (message: String, serverSignature: String) {
        let (nonce, salt, iterations) = try serverFirstFields(serverFirst)
        let salted: [UInt8]
        do {
            salted = try SCRAMCrypto.hi(password: Array(password.utf8), salt: Array(salt), iterations: iterations)
        } catch {
            throw NetworkError("SCRAM: could not derive the salted password (\(error))")
        }
        let clientKey = SCRAMCrypto.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = SCRAMCrypto.hash(clientKey)
        let withoutProof = "c=biws,r=\(nonce)"  // biws: base64 of "n,,"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = SCRAMCrypto.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        let serverKey = SCRAMCrypto.hmac(key: salted, Array("Server Key".utf8))
        let serverSignature = Data(SCRAMCrypto.hmac(key: serverKey, authMessage)).base64EncodedString()
        return ("\(withoutProof),p=\(Data(proof).base64EncodedString())", serverSignature)
    }
}

/// The three primitives SCRAM-SHA-256 is built on (RFC 5802 section 2.2), taken
/// from apple/swift-crypto (BoringSSL underneath) rather than written here: a
/// login is the one place muster handles a secret, and hand-rolled cryptography
/// is what a security review flags first.
enum SCRAMCrypto {
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    /// HMAC-SHA-256 of `message` under `key`.
    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// `Hi`: PBKDF2-HMAC-SHA-256 with one 32-byte block. The iteration count is
    /// the server's (Postgres uses 4096), so swift-crypto's floor for password
    /// storage does not apply: the unchecked variant is the one that fits.
    static func hi(password: [UInt8], salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(
            from: password, salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: max(1, iterations))
        return key.withUnsafeBytes { Array($0) }
    }
}
