import Dispatch
import Foundation

/// Drains one service's stdout+stderr pipe, always, so a chatty service never
/// blocks on a full pipe. Raw bytes go to the log file; lines go to the console
/// (prefixed), to the tail buffer, and to an observer while a `log` probe waits.
/// Unchecked: every field is touched only on its serial queue.
public final class OutputPump: @unchecked Sendable {
    private let fd: Int32
    private let log: RotatingLog?
    private let prefix: LinePrefix?
    private let console: Console?
    private let queue: DispatchQueue
    private var token: UInt64 = 0
    private var buffer: UnsafeMutableRawBufferPointer
    /// Bytes after the last newline, carried to the next chunk (console and observer).
    private var carry: [UInt8] = []
    private var observer: ((Substring) -> Void)?
    private var tail = TailBuffer()
    private var finished = false
    private var eofWaiters: [() -> Void] = []

    static let chunkSize = 128 * 1024

    /// - Parameters:
    ///   - fd: the read end of the pipe; the pump owns and closes it.
    ///   - log: the service's log, owned by the caller (shared across restarts).
    public init(fd: Int32, log: RotatingLog?, prefix: LinePrefix?, console: Console?, label: String) {
        self.fd = fd
        self.log = log
        self.prefix = prefix
        self.console = console
        self.queue = DispatchQueue(label: "muster.pump.\(label)")
        self.buffer = .allocate(byteCount: Self.chunkSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    public func start() {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        Descriptors.enlargePipe(fd, to: 1 << 20)
        token = FDReactor.shared.add(fd) { [weak self] in
            guard let self else { return false }  // dropped without finishing: the reactor closes fd
            // At EOF, finish() has removed the registration and closed fd itself.
            self.queue.sync { self.drain() }
            return true
        }
    }

    /// Lines are passed to `observer` until it is replaced with nil.
    public func observeLines(_ observer: ((Substring) -> Void)?) {
        queue.sync { self.observer = observer }
    }

    public func lastLines(_ count: Int) -> [String] {
        queue.sync { tail.lastLines(count) }
    }

    /// Returns once the pipe reached EOF or `timeout` passed (a grandchild may hold it open).
    public func waitForEOF(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Resumed once: by EOF or by the timer, whichever comes first.
            let once = ResumeOnce(continuation)
            let resume: @Sendable () -> Void = { once.resume(()) }
            queue.async {
                if self.finished { resume() } else { self.eofWaiters.append(resume) }
            }
            DispatchQueue.global().asyncAfter(
                deadline: .now() + .milliseconds(Int(timeout.milliseconds)), execute: resume)
        }
    }

    /// Stops reading (the pipe is closed); any unread bytes are drained first.
    public func cancel() {
        queue.sync {
            drain()
            finish()
        }
    }

    private func drain() {
        guard !finished else { return }
        for _ in 0..<64 {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                handle(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                continue
            }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            // EOF or a hard error: flush the unterminated last line.
            if !carry.isEmpty {
                var newline: [UInt8] = [10]
                newline.withUnsafeMutableBytes { handle(UnsafeRawBufferPointer($0)) }
            }
            finish()
            return
        }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        FDReactor.shared.remove(token)
        close(fd)
        let waiters = eofWaiters
        eofWaiters = []
        waiters.forEach { $0() }
    }

    private func handle(_ chunk: UnsafeRawBufferPointer) {
        log?.write(chunk)
        tail.append(chunk)
        guard console != nil || observer != nil else { return }
        var output: [UInt8] = []
        if console != nil { output.reserveCapacity(chunk.count + chunk.count / 16) }
        var start = 0
        let base = chunk.baseAddress!
        while start < chunk.count {
            guard let hit = memchr(base + start, 10, chunk.count - start) else {
                carry.append(contentsOf: chunk[start...])
                break
            }
            let end = base.distance(to: UnsafeRawPointer(hit))
            let line = UnsafeRawBufferPointer(rebasing: chunk[start..<end])
            emit(line, into: &output)
            start = end + 1
        }
        if let console, !output.isEmpty { output.withUnsafeBytes { console.write($0) } }
    }

    private func emit(_ piece: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        var line = piece
        var joined: [UInt8] = []
        if !carry.isEmpty {
            joined = carry + Array(piece)
            carry.removeAll(keepingCapacity: true)
        }
        joined.withUnsafeBytes { joinedBytes in
            if !joinedBytes.isEmpty { line = joinedBytes }
            if line.last == 13 { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
            if console != nil {
                if let prefix { output += prefix.bytes }
                output += line
                output.append(10)
            }
            if let observer { observer(Substring(decoding: line, as: UTF8.self)) }
        }
    }
}

@discardableResult
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    guard fd >= 0, bytes.count > 0 else { return true }
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

@discardableResult
func writeAll(_ fd: Int32, _ text: String) -> Bool {
    var copy = text
    return copy.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
}
