import ArgumentParser
import Dispatch
import Foundation
import MusterKit
#if canImport(Glibc)
import Glibc
#endif

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start services (and what they depend on) in dependency order, in the foreground.",
        discussion: "Ctrl-C or SIGTERM stops everything in reverse order and exits 0; a second Ctrl-C kills at once.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Services to start (default: all).") var services: [String] = []

    func run() async throws {
        let stack = try global.loadStack()
        let console = Console.standardOutput
        let session = try StackSession(stack: stack, project: global.project, services: services,
                                       options: .init(console: console))
        let signals = SignalWatcher()
        let startTask = Task { try await session.start() }
        let interrupted = Task {
            await signals.next()
            return true
        }
        // Tear down on the first signal, even mid-start; force-kill on the second.
        Task {
            _ = await interrupted.value
            startTask.cancel()
            await signals.next()
            console.line(console.paint("muster │ ", .bold) + "second signal: killing everything now")
            await session.supervisor.forceKill()
        }
        // Whichever comes first: the stack is up (or failed), or a signal arrived.
        let startResult: Result<Void, Error>? = await withCheckedContinuation { continuation in
            let once = ResumeOnce(continuation)
            Task {
                do { try await startTask.value; once.resume(.success(())) } catch { once.resume(.failure(error)) }
            }
            Task {
                _ = await interrupted.value
                once.resume(nil)
            }
        }
        if signals.received == 0 {
            if case let .failure(error)? = startResult {
                await tearDown(session, console: console)
                throw error
            }
            for line in await session.timeline() { console.line(console.paint("muster │ ", .bold) + line) }
            console.line(console.paint("muster │ ", .bold) + console.paint("all \(session.selected.count) services up; Ctrl-C to stop", .boldGreen))
            _ = await interrupted.value
        }
        await tearDown(session, console: console)
    }

    func tearDown(_ session: StackSession, console: Console) async {
        console.line(console.paint("muster │ ", .bold) + "stopping \(session.selected.count) services")
        let leftovers = await session.stop()
        if leftovers.isEmpty {
            console.line(console.paint("muster │ ", .bold) + "all stopped; no process left")
        } else {
            Output.warning("killed \(leftovers.count) leftover processes: \(leftovers.joined(separator: ", "))")
        }
    }
}

/// SIGINT and SIGTERM as an async sequence of counts.
final class SignalWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM, SIGHUP] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
        }
    }

    var received: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    private var consumed = 0

    private func fire() {
        lock.lock()
        count += 1
        let pending = waiters
        waiters = []
        lock.unlock()
        pending.forEach { $0.resume() }
    }

    /// Waits for the next signal not yet consumed.
    func next() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if count > consumed {
                consumed += 1
                lock.unlock()
                continuation.resume()
                return
            }
            waiters.append(continuation)
            lock.unlock()
        }
        consumeIfPending()
    }

    private func consumeIfPending() {
        lock.lock()
        if consumed < count { consumed += 1 }
        lock.unlock()
    }
}

/// Resumes a continuation once; later calls are ignored.
final class ResumeOnce<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = continuation }

    func resume(_ value: T) {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume(returning: value)
    }
}
