import Foundation
@testable import MusterKit
#if canImport(Glibc)
import Glibc
#endif

/// A TCP forwarder on 127.0.0.1 that records what passes through it, one
/// connection after another: muster's own clients connect to it instead of the
/// real server, so the fuzz corpora hold the bytes those clients really read.
final class RecordingProxy: @unchecked Sendable {
    /// One client connection: what the client sent, and what the server answered.
    struct Exchange {
        var sent: [UInt8] = []
        var received: [UInt8] = []
    }

    let port: Int
    private let listener: Int32
    private let target: Int
    private let lock = NSLock()
    private var finished: [Exchange] = []
    private var thread: Thread?

    init(forwardingTo target: Int) throws {
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, listen(fd, 8) == 0 else { throw NetworkError("proxy: cannot listen on 127.0.0.1") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { self.serve() }
        self.thread = thread
        thread.start()
    }

    /// The exchanges of every connection closed so far, in order.
    var exchanges: [Exchange] {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    /// Waits (bounded) until `count` connections have closed.
    func exchanges(count: Int) async -> [Exchange] {
        _ = await eventually(within: .seconds(10)) { self.exchanges.count >= count }
        return exchanges
    }

    func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

    private func serve() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            guard let server = try? TCPConnection.rawConnect(port: target) else { Glibc.close(client); continue }
            let exchange = pump(client: client, server: server)
            lock.lock()
            finished.append(exchange)
            lock.unlock()
        }
    }

    /// Copies both ways until either side closes.
    private func pump(client: Int32, server: Int32) -> Exchange {
        defer { Glibc.close(client); Glibc.close(server) }
        var exchange = Exchange()
        var fds = [
            pollfd(fd: client, events: Int16(POLLIN), revents: 0),
            pollfd(fd: server, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while poll(&fds, 2, 15_000) > 0 {
            for (index, entry) in fds.enumerated() where entry.revents != 0 {
                let count = read(entry.fd, &buffer, buffer.count)
                guard count > 0 else { return exchange }
                let chunk = Array(buffer[0..<count])
                if index == 0 { exchange.sent += chunk } else { exchange.received += chunk }
                let other = index == 0 ? server : client
                var written = 0
                while written < count {
                    let step = chunk[written...].withUnsafeBytes { write(other, $0.baseAddress, count - written) }
                    guard step > 0 else { return exchange }
                    written += step
                }
            }
        }
        return exchange
    }
}

extension TCPConnection {
    /// A blocking socket connected to 127.0.0.1:`port`, for the proxy's server side.
    static func rawConnect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { Glibc.close(fd); throw NetworkError("proxy: cannot connect to 127.0.0.1:\(port)") }
        return fd
    }
}
