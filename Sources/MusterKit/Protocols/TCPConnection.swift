import Foundation

/// A network failure, with text meant to be shown to a person as is
/// (for example "connection refused to 127.0.0.1:5432").
///
/// Readiness probes report these messages verbatim while a stack boots, so the
/// text names the operation, the endpoint and, for timeouts, the limit that ran out.
public struct NetworkError: Error, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A blocking TCP client connection over POSIX sockets.
///
/// Protocol probes (Kafka, Postgres, ...) need a plain byte pipe with hard
/// deadlines: a probe must never hang on a half-started service. Foundation's
/// stream APIs give no reliable timeouts on Linux, so this wraps the socket
/// directly. The socket stays non-blocking after connecting and every call
/// waits with `poll(2)` against its own deadline of `timeout`, which bounds the
/// whole call (not each partial `recv`).
public final class TCPConnection {
    /// "host:port" (IPv6 in brackets), used in every error message.
    public let endpoint: String
    /// The limit for connecting and for each read or write call.
    public var timeout: Duration
    /// No call runs past this, however the peer trickles its bytes: probes set it
    /// so one check ends within its timeout.
    public var deadline: ContinuousClock.Instant?

    private var fd: Int32

    /// Connects to `host:port` within `timeout`.
    ///
    /// `host` may be an IPv4 or IPv6 literal (bracketed or not), "localhost" or
    /// any name the system resolver knows. Every resolved address is tried in
    /// turn, so "localhost" works whether the server listens on 127.0.0.1 or ::1.
    public init(host: String, port: Int, timeout: Duration) throws {
        var bare = host
        if bare.hasPrefix("["), bare.hasSuffix("]") {
            bare = String(bare.dropFirst().dropLast())
        }
        let endpoint = bare.contains(":") ? "[\(bare)]:\(port)" : "\(bare):\(port)"
        self.endpoint = endpoint
        self.timeout = timeout
        guard (1...65535).contains(port) else {
            throw NetworkError("invalid port \(port) for \(bare)")
        }
        guard timeout > .zero else {
            throw NetworkError("invalid timeout \(TCPConnection.format(timeout)) for \(endpoint)")
        }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let addresses = try TCPConnection.resolve(host: bare, port: port, endpoint: endpoint)
        var lastError = NetworkError("no address found for \(endpoint)")
        for address in addresses {
            do {
                fd = try TCPConnection.connect(to: address, deadline: deadline, timeout: timeout, endpoint: endpoint)
                return
            } catch let error as NetworkError {
                lastError = error
                if ContinuousClock.now >= deadline { break }
            }
        }
        throw lastError
    }

    /// Connects to a unix stream socket (the control API) within `timeout`.
    public init(unixSocket path: String, timeout: Duration) throws {
        self.endpoint = path
        self.timeout = timeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw NetworkError("socket path \(path) is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { target in
            withUnsafeBytes(of: &address) { target.copyMemory(from: $0) }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        fd = try TCPConnection.connect(
            to: Address(family: AF_UNIX, storage: storage, length: length),
            deadline: deadline, timeout: timeout, endpoint: path)
    }

    deinit {
        close()
    }

    /// Sends all of `bytes`, or throws.
    public func write(_ bytes: [UInt8]) throws {
        let socket = try openDescriptor()
        let deadline = callDeadline()
        var sent = 0
        while sent < bytes.count {
            let result = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return send(socket, base + sent, raw.count - sent, SystemPaths.sendFlags)
            }
            if result > 0 {
                sent += result
                continue
            }
            let code = errno
            if result < 0 && code == EINTR { continue }
            if result < 0 && (code == EAGAIN || code == EWOULDBLOCK) {
                try wait(for: Int16(POLLOUT), deadline: deadline, doing: "writing to")
                continue
            }
            throw TCPConnection.failure(code, doing: "writing to", endpoint: endpoint)
        }
    }

    /// Reads exactly `count` bytes; an early end of stream is an error.
    public func read(exactly count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        let deadline = callDeadline()
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got: Int
            do {
                got = try receive(into: &buffer, at: filled, max: count - filled, deadline: deadline)
            } catch let error as NetworkError {
                throw NetworkError("\(error.message) (\(filled) of \(count) bytes arrived)")
            }
            if got == 0 {
                throw NetworkError("connection closed by \(endpoint) after \(filled) of \(count) bytes")
            }
            filled += got
        }
        return buffer
    }

    /// Reads whatever arrives first, up to `max` bytes; returns [] at end of stream.
    public func readSome(max: Int) throws -> [UInt8] {
        guard max > 0 else { return [] }
        let deadline = callDeadline()
        var buffer = [UInt8](repeating: 0, count: max)
        let got = try receive(into: &buffer, at: 0, max: max, deadline: deadline)
        return Array(buffer[0..<got])
    }

    /// Closes the socket; later calls throw. Safe to call more than once.
    public func close() {
        if fd >= 0 {
            POSIX.close(fd)
            fd = -1
        }
    }

    /// The socket, for TLS layered on this connection (`TLSConnection`).
    var descriptor: Int32 { fd }

    /// Whether bytes (or the end of the stream, or an error) wait to be read, without waiting.
    var hasPendingInput: Bool {
        guard fd >= 0 else { return true }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return POSIX.poll(&entry, 1, 0) != 0
    }

    /// The end of a call starting now: its own timeout, or the connection's deadline.
    func callDeadline() -> ContinuousClock.Instant {
        let own = ContinuousClock.now.advanced(by: timeout)
        guard let deadline else { return own }
        return min(own, deadline)
    }

    // MARK: - Private

    private func openDescriptor() throws -> Int32 {
        guard fd >= 0 else { throw NetworkError("connection to \(endpoint) is closed") }
        return fd
    }

    /// One successful `recv` into `buffer[offset...]`; 0 means end of stream.
    private func receive(into buffer: inout [UInt8], at offset: Int, max: Int, deadline: ContinuousClock.Instant) throws
        -> Int
    {
        let socket = try openDescriptor()
        while true {
            let result = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return recv(socket, base + offset, max, 0)
            }
            if result >= 0 { return result }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), deadline: deadline, doing: "reading from")
                continue
            }
            throw TCPConnection.failure(code, doing: "reading from", endpoint: endpoint)
        }
    }

    /// Waits until the socket is ready for `events` or the deadline passes.
    func wait(for events: Int16, deadline: ContinuousClock.Instant, doing action: String) throws {
        let socket = try openDescriptor()
        if try !TCPConnection.poll(socket, events: events, deadline: deadline) {
            throw NetworkError("timed out after \(TCPConnection.format(timeout)) \(action) \(endpoint)")
        }
    }

    /// Returns false on timeout, true when an event (or error/hang-up) is pending.
    private static func poll(_ socket: Int32, events: Int16, deadline: ContinuousClock.Instant) throws -> Bool {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return false }
            var entry = pollfd(fd: socket, events: events, revents: 0)
            let result = POSIX.poll(&entry, 1, milliseconds(left))
            if result > 0 { return true }
            if result == 0 { continue }  // loop re-checks the deadline
            let code = errno
            if code == EINTR { continue }
            throw NetworkError("poll failed: \(String(cString: strerror(code)))")
        }
    }

    /// A resolved socket address, copied out of getaddrinfo's list.
    private struct Address {
        var family: Int32
        var storage: sockaddr_storage
        var length: socklen_t
    }

    private static func resolve(host: String, port: Int, endpoint: String) throws -> [Address] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Descriptors.streamSocket
        // No AI_ADDRCONFIG: it hides ::1 and 127.0.0.1 on hosts whose only
        // interface is loopback (containers, sandboxes), which is exactly where
        // dev stacks run. Unusable addresses simply fail and the next is tried.
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw NetworkError("cannot resolve \(host) for \(endpoint): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [Address] = []
        var node = list
        while let info = node?.pointee {
            if let sockaddrPointer = info.ai_addr, Int(info.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: sockaddrPointer, count: Int(info.ai_addrlen)))
                }
                addresses.append(Address(family: info.ai_family, storage: storage, length: info.ai_addrlen))
            }
            node = info.ai_next
        }
        return addresses
    }

    private static func connect(
        to address: Address, deadline: ContinuousClock.Instant, timeout: Duration, endpoint: String
    ) throws -> Int32 {
        let socketFD = Descriptors.openSocket(family: address.family, type: Descriptors.streamSocket, nonBlocking: true)
        guard socketFD >= 0 else {
            throw NetworkError("cannot create socket for \(endpoint): \(String(cString: strerror(errno)))")
        }
        var keep = false
        defer { if !keep { POSIX.close(socketFD) } }

        var storage = address.storage
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { POSIX.connect(socketFD, $0, address.length) }
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS || code == EINTR else {
                throw failure(code, doing: "connecting to", endpoint: endpoint)
            }
            guard try poll(socketFD, events: Int16(POLLOUT), deadline: deadline) else {
                throw NetworkError("timed out after \(format(timeout)) connecting to \(endpoint)")
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(socketFD, SOL_SOCKET, SO_ERROR, &socketError, &length) == 0 else {
                throw failure(errno, doing: "connecting to", endpoint: endpoint)
            }
            if socketError != 0 {
                throw failure(socketError, doing: "connecting to", endpoint: endpoint)
            }
        }
        // Probes send small request/response frames; Nagle would only add latency.
        var one: Int32 = 1
        if address.family != AF_UNIX {
            _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        keep = true
        return socketFD
    }

    /// Maps an errno to a message a person can act on.
    private static func failure(_ code: Int32, doing action: String, endpoint: String) -> NetworkError {
        switch code {
        case ECONNREFUSED:
            return NetworkError("connection refused to \(endpoint)")
        case ECONNRESET, EPIPE:
            return NetworkError("connection reset by \(endpoint)")
        case ETIMEDOUT:
            return NetworkError("timed out \(action) \(endpoint)")
        case EHOSTUNREACH, ENETUNREACH:
            return NetworkError("no route to \(endpoint)")
        default:
            return NetworkError("error \(action) \(endpoint): \(String(cString: strerror(code)))")
        }
    }

    /// Whole milliseconds for poll(2), rounded up so a tiny remainder still waits.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(millis, 0))
    }

    /// "1s", "250ms", "1.5s": short enough for one-line probe messages.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        if millis < 1000 { return "\(millis)ms" }
        return "\(Double(millis) / 1000)s"
    }
}
