// The one import of the C library in muster, re-exported: every file of MusterKit,
// and the muster executable (which imports MusterKit), sees POSIX through it. What
// muster needs beyond POSIX is in the `+Linux` files of this folder, behind the
// interfaces of Platform.swift; docs/platform.md lists them for another system.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Darwin)
@_exported import Darwin
#endif
