// The one import of the C library in muster, re-exported: every file of MusterKit,
// and the muster executable (which imports MusterKit), sees POSIX through it. What
// muster needs beyond POSIX is in the `+Linux` files of this folder, behind the
// interfaces of Platform.swift; docs/platform.md lists them for another system.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Darwin)
@_exported import Darwin
#endif

/// The C library's calls under a name no method hides: inside a type with its own
/// `close()` or `write(_:)`, a bare `close(fd)` means the method, and naming the
/// library (`Glibc.close`) would tie the caller to Linux.
public enum POSIX {
    @discardableResult
    public static func close(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    public static func write(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, bytes, count)
        #else
        return Darwin.write(fd, bytes, count)
        #endif
    }

    public static func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        #if canImport(Glibc)
        return Glibc.open(path, flags, mode)
        #else
        return Darwin.open(path, flags, mode)
        #endif
    }

    public static func poll(_ entries: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ milliseconds: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.poll(entries, count, milliseconds)
        #else
        return Darwin.poll(entries, count, milliseconds)
        #endif
    }

    public static func connect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        #if canImport(Glibc)
        return Glibc.connect(fd, address, length)
        #else
        return Darwin.connect(fd, address, length)
        #endif
    }
}
