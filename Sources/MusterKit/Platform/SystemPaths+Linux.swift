import Foundation

/// Paths the kernel knows: the running binary and what a descriptor is open on.
enum SystemPaths: SystemPathLookup {
    /// The running muster binary (/proc/self/exe), or argv[0] when /proc is missing.
    static var executable: String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// The file descriptor `fd` is open on (/proc/self/fd/FD).
    static func path(of fd: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
    }

    /// `send` flags: no SIGPIPE when the peer has gone (Linux: MSG_NOSIGNAL per call;
    /// elsewhere SO_NOSIGPIPE on the socket).
    static let sendFlags = Int32(MSG_NOSIGNAL)
}
