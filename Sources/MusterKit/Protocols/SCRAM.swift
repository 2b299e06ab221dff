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
            self.clientNonce = Data((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
        }
    }

    var clientFirstBare: String { "n=,r=\(clientNonce)" }
    var clientFirstMessage: String { "n,," + clientFirstBare }

    /// The final message, and the server signature to expect in return.
    func clientFinal(serverFirst: String) throws -> (message: String, serverSignature: String) {
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
        guard let iterationText = fields["i"], let iterations = Int(iterationText), (1...10_000_000).contains(iterations) else {
            throw NetworkError("SCRAM: the server sent no usable iteration count")
        }
        let salted = SHA256.pbkdf2(password: Array(password.utf8), salt: Array(salt), iterations: iterations)
        let clientKey = SHA256.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = SHA256.hash(clientKey)
        let withoutProof = "c=biws,r=\(nonce)"  // biws: base64 of "n,,"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = SHA256.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, signature).map { $0 ^ $1 }
        let serverKey = SHA256.hmac(key: salted, Array("Server Key".utf8))
        let serverSignature = Data(SHA256.hmac(key: serverKey, authMessage)).base64EncodedString()
        return ("\(withoutProof),p=\(Data(proof).base64EncodedString())", serverSignature)
    }
}
