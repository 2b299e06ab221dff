import Foundation

/// Checks fixed ports before anything starts and picks free ones for `port: auto`.
public enum PortPreflight {
    /// Whether something already listens on (or holds) 127.0.0.1:port.
    public static func isFree(_ port: Int) -> Bool {
        let fd = Descriptors.openSocket(family: AF_INET, type: Descriptors.streamSocket)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    /// A port the kernel says is free now; `avoiding` keeps one `up` from handing
    /// the same port out twice.
    public static func freePort(avoiding taken: Set<Int>) throws -> Int {
        for _ in 0..<64 {
            let fd = Descriptors.openSocket(family: AF_INET, type: Descriptors.streamSocket)
            guard fd >= 0 else { break }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound: Bool = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            let port = bound ? Int(UInt16(bigEndian: address.sin_port)) : 0
            close(fd)
            if port > 0, !taken.contains(port) { return port }
        }
        throw MusterError(.environment, "no free TCP port found on 127.0.0.1")
    }

    /// `port 5432 is in use by pid 812 (postgres -D /var/lib/...)`, as far as the system shows.
    public static func describeHolder(of port: Int) -> String { PortOwners.describeHolder(of: port) }
}
