import Foundation
import Testing
@testable import MusterKit

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// The vectors the removed sha256.c was checked against, now against the
/// swift-crypto primitives SCRAM uses: a wrong wiring (key and message swapped,
/// a short PBKDF2 output) fails here before any login does.
@Suite struct SCRAMCryptoTests {
    /// `head -c N /dev/zero | tr '\\0' b | sha256sum`
    static let reference = [
        55: "eb2c86e932179f4ba13fe8715a26124b77d6bad290b9b4c1cc140cf633300c19",
        56: "a5fc6e203a4c2b657d0d153885932414b2ffc6a93f0f8bf8b3183315e5a7212c",
        63: "94e419fabac7f930810f9636354042f8c1426d2f834d4ab65c93dc1e69326b13",
        64: "a0fab1377f49a759b57f63318262ebe89fabfc990e8e93ceac2984561482b9d4",
        65: "74b128f30cf83de43ddf4aafc40c7b50a7443d3c73a89a7cfca17e15e43d51ab",
        119: "68297a9eb141ce16bbc0847da1c0c48e2858704feaa13993bde29f87a198a6e1",
        120: "392add47fbaa8197a874ebe770a947a26dd6f2becce5f64688cc4d18c9da93bd",
    ]

    @Test func digestsMatchFIPS180Vectors() {
        #expect(hex(SCRAMCrypto.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            hex(SCRAMCrypto.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            hex(SCRAMCrypto.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a's: many blocks.
        #expect(
            hex(SCRAMCrypto.hash([UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Every length around the padding boundary (55, 56, 63, 64 bytes) against sha256sum.
        for count in [55, 56, 63, 64, 65, 119, 120] {
            #expect(hex(SCRAMCrypto.hash([UInt8](repeating: 0x62, count: count))) == Self.reference[count])
        }
    }

    @Test func hmacMatchesRFC4231() {
        // Test case 1 and test case 6 (a key longer than a block).
        #expect(
            hex(SCRAMCrypto.hmac(key: [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            hex(
                SCRAMCrypto.hmac(
                    key: [UInt8](repeating: 0xaa, count: 131),
                    Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func pbkdf2MatchesRFC7914() throws {
        // RFC 7914 section 11, first 32 bytes of the 64 (one block).
        #expect(
            hex(try SCRAMCrypto.hi(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1))
                == "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
        #expect(
            hex(try SCRAMCrypto.hi(password: Array("Password".utf8), salt: Array("NaCl".utf8), iterations: 80000))
                == "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56")
    }
}

@Suite struct PostgresProtocolTests {
    @Test func scramMatchesRFC7677Example() throws {
        // RFC 7677 section 3, with the user name left empty as Postgres clients send it:
        // the proof covers the messages as sent, so it differs from the RFC's, but the
        // server's nonce check and the message shapes are the RFC's.
        let client = SCRAMClient(password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.clientFirstMessage == "n,,n=,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let (final, signature) = try client.clientFinal(serverFirst: serverFirst)
        #expect(final.hasPrefix("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="))
        #expect(Data(base64Encoded: String(final.split(separator: "=", maxSplits: 3).last!))?.count == 32)
        #expect(Data(base64Encoded: signature)?.count == 32)
    }

    @Test func scramWithTheRFCUserNameGivesTheRFCProof() throws {
        // The same computation as the RFC when the bare first message names "user".
        let salted = try SCRAMCrypto.hi(
            password: Array("pencil".utf8), salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!),
            iterations: 4096)
        let clientKey = SCRAMCrypto.hmac(key: salted, Array("Client Key".utf8))
        let auth =
            "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        let signature = SCRAMCrypto.hmac(key: SCRAMCrypto.hash(clientKey), Array(auth.utf8))
        let proof = Data(zip(clientKey, signature).map { $0 ^ $1 }).base64EncodedString()
        #expect(proof == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        let serverKey = SCRAMCrypto.hmac(key: salted, Array("Server Key".utf8))
        #expect(
            Data(SCRAMCrypto.hmac(key: serverKey, Array(auth.utf8))).base64EncodedString()
                == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func scramRefusesAServerNonceThatDoesNotExtendOurs() {
        let client = SCRAMClient(password: "x", clientNonce: "abc")
        #expect(throws: NetworkError.self) { try client.clientFinal(serverFirst: "r=zzz123,s=c2FsdA==,i=4096") }
        #expect(throws: NetworkError.self) { try client.clientFinal(serverFirst: "r=abc123,s=***,i=4096") }
        #expect(throws: NetworkError.self) { try client.clientFinal(serverFirst: "r=abc123,s=c2FsdA==,i=0") }
    }

    @Test func conninfoIsParsedAsLibpqDoes() throws {
        let settings = try PostgresConnection.parse(
            conninfo: "host='/tmp/a b' port = 5433 user=app password='it\\'s \\\\ x' dbname=app")
        #expect(
            settings == ["host": "/tmp/a b", "port": "5433", "user": "app", "password": "it's \\ x", "dbname": "app"])
        let quoted = PostgresConnection.conninfoValue("it's \\ x")
        #expect(try PostgresConnection.parse(conninfo: "password=\(quoted)")["password"] == "it's \\ x")
        #expect(throws: NetworkError.self) { try PostgresConnection.parse(conninfo: "host") }
        #expect(throws: NetworkError.self) { try PostgresConnection.parse(conninfo: "password='open") }
    }

    @Test func nothingListeningIsAClearError() {
        #expect {
            try PostgresConnection("host=127.0.0.1 port=1 user=x connect_timeout=1")
        } throws: { error in
            "\(error)".contains("127.0.0.1:1") && "\(error)".contains("failed")
        }
    }
}
