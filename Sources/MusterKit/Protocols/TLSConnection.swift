import CMusterShims
import Foundation

/// TLS over a TCP connection, through the system's OpenSSL 3 (loaded on first use, see
/// `tls.c`): a byte stream like any other, so https is framed by the same HTTP client
/// as http. The server's certificate must chain to a trusted root (the system's, or only
/// the ones in a given file) and name the host asked for. Every call keeps the TCP
/// connection's timeout and deadline: OpenSSL works on the non-blocking socket and says
/// whether it waits to read or to write; this polls and calls again.
final class TLSConnection: ByteStream {
    let socket: TCPConnection
    private var session: UnsafeMutableRawPointer?

    var endpoint: String { socket.endpoint }

    var deadline: ContinuousClock.Instant? {
        get { socket.deadline }
        set { socket.deadline = newValue }
    }

    /// Starts TLS on `socket` and completes the handshake within its timeout.
    init(over socket: TCPConnection, host: String, trusting caFile: String? = nil) throws {
        self.socket = socket
        var error = [CChar](repeating: 0, count: 256)
        let isAddress = Self.isAddress(host)
        session = muster_tls_open(socket.descriptor, host, isAddress ? 1 : 0, caFile, &error, error.count)
        guard session != nil else {
            socket.close()
            throw NetworkError("TLS to \(socket.endpoint): \(String(nulTerminated: error))")
        }
        do {
            _ = try step("handshake with") { session, error in muster_tls_handshake(session, error, 256) }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = Int32(min(bytes.count - sent, 1 << 20))
            sent += try bytes.withUnsafeBytes { raw in
                let start = raw.baseAddress! + sent
                return try step("writing to") { session, error in muster_tls_write(session, start, count, error, 256) }
            }
        }
    }

    func readSome(max: Int) throws -> [UInt8] {
        guard max > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: max)
        let got = try buffer.withUnsafeMutableBytes { raw in
            let start = raw.baseAddress!
            return try step("reading from") { session, error in muster_tls_read(session, start, Int32(max), error, 256)
            }
        }
        return Array(buffer[0..<got])
    }

    func close() {
        if let session {
            muster_tls_close(session)
            self.session = nil
        }
        socket.close()
    }

    /// One OpenSSL call, repeated while it waits for the socket, within the call's deadline.
    private func step(
        _ action: String,
        _ call: (UnsafeMutableRawPointer, UnsafeMutablePointer<CChar>) -> Int
    ) throws -> Int {
        guard let session else { throw NetworkError("connection to \(endpoint) is closed") }
        let deadline = socket.callDeadline()
        var error = [CChar](repeating: 0, count: 256)
        while true {
            let result = error.withUnsafeMutableBufferPointer { call(session, $0.baseAddress!) }
            switch result {
            case Int(MUSTER_TLS_WANT_READ):
                try socket.wait(for: Int16(POLLIN), deadline: deadline, doing: "TLS \(action)")
            case Int(MUSTER_TLS_WANT_WRITE):
                try socket.wait(for: Int16(POLLOUT), deadline: deadline, doing: "TLS \(action)")
            case Int(MUSTER_TLS_FAILED):
                throw NetworkError("TLS \(action) \(endpoint): \(String(nulTerminated: error))")
            default: return result
            }
        }
    }

    /// An IPv4 or IPv6 literal: the certificate must name the address, not a DNS name.
    static func isAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
