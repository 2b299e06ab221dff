import CMusterShims

/// Descriptors that are close-on-exec from the call that makes them, so a child
/// started meanwhile by another thread never inherits one; and the pipe size.
/// Linux: `SOCK_CLOEXEC`/`SOCK_NONBLOCK` on `socket`, `pipe2`, `dup3` (spawn.c) and
/// `F_SETPIPE_SZ`. Elsewhere the plain call and then `fcntl` (`FD_CLOEXEC`, `O_NONBLOCK`):
/// safe there because the spawner closes every descriptor a child does not need.
public enum Descriptors {
    /// Glibc's socket types are an enum; these are the numbers `socket` and `getaddrinfo` take.
    public static let streamSocket = Int32(SOCK_STREAM.rawValue)
    public static let datagramSocket = Int32(SOCK_DGRAM.rawValue)

    /// A close-on-exec socket of `type` (`streamSocket`, `datagramSocket`) in `family`,
    /// non-blocking when asked; -1 with errno set when the kernel refuses.
    public static func openSocket(family: Int32, type: Int32, nonBlocking: Bool = false) -> Int32 {
        var flags = type | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { flags |= Int32(SOCK_NONBLOCK.rawValue) }
        return socket(family, flags, 0)
    }

    /// A pipe whose two ends are close-on-exec, or nil with errno set.
    public static func openPipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [0, 0]
        guard muster_pipe_cloexec(&fds) == 0 else { return nil }
        return (fds[0], fds[1])
    }

    /// Makes `target` a close-on-exec copy of `source` in one step (whatever `target`
    /// was open on is closed); false with errno set when it fails.
    @discardableResult
    public static func duplicate(_ source: Int32, onto target: Int32) -> Bool {
        muster_dup3_cloexec(source, target) >= 0
    }

    /// Asks for a pipe buffer of `bytes` (Linux's default is 64 KiB), so a burst of
    /// output does not block its writer; false where the size cannot be set.
    @discardableResult
    public static func enlargePipe(_ fd: Int32, to bytes: Int32) -> Bool {
        muster_set_pipe_size(fd, bytes) >= 0
    }
}
