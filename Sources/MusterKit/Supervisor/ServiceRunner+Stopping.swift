import Foundation

/// How a runner stops an incarnation and knows it has stopped: the stop command's
/// short grace, the stop timer, SIGKILL of every process of it, and the wait until
/// every one of them is gone and what they held is free. A service is stopped when
/// its processes are gone, not when they were signalled.
extension ServiceRunner {
    /// How long a service may take to let go of everything after its leader exited
    /// (processes SIGKILLed while in uninterruptible sleep finish their I/O first).
    static let releaseLimit: Duration = .seconds(30)
    /// Past this, a line says what the stop still waits for.
    static let releaseNotice: Duration = .seconds(1)

    /// Adds the leader's descendants to what belongs to this incarnation. Postgres's
    /// children leave the leader's process group (`setsid`), so the group alone would
    /// miss them; once the leader is gone they are orphans and can no longer be found
    /// by ancestry, so they are looked up while it runs: when it is ready and at each
    /// step of a stop.
    func gatherMembers() {
        guard let leader = liveGroup, reapedGroup != leader else { return }
        members = members.filter { !ProcessTable.isGone($0) }
        for entry in ProcessTable.descendants(of: leader) { members.insert(ProcessInstance(entry)) }
    }

    /// SIGKILL to the process group and to every process of the incarnation.
    func killEveryMember() {
        gatherMembers()
        if let group = liveGroup { ProcessTable.signalGroup(group, SIGKILL) }
        for member in members { ProcessTable.signal(member, SIGKILL) }
    }

    func warn(_ text: String) {
        if let event = tell(.warn(text)) { outbox.yield((snapshot, event)) }
    }

    /// After the leader exited: SIGKILL what it left behind, then wait until every
    /// process of the incarnation is gone (a zombie counts as gone; one still exiting
    /// does not) and the engine says what they held is free (Postgres: its shared
    /// memory). Bounded by `releaseLimit`; what is still there then is kept in
    /// `survivors`, said in a warning, and reported by `down` and `stop`.
    func awaitRelease(_ release: ReleaseCheck) async {
        survivors = []
        var check = release
        guard !check.pending().isEmpty else { return }
        for member in check.members { ProcessTable.signal(member, SIGKILL) }
        let begin = time.now
        var pending = await check.waitUntilReleased(within: Self.releaseNotice, on: time)
        guard !pending.isEmpty else { return }
        warn(
            "waiting for \(pending.joined(separator: "; ")) before it counts as stopped (up to \(DurationParser.format(Self.releaseLimit)))"
        )
        pending = await check.waitUntilReleased(within: Self.releaseLimit - Self.releaseNotice, on: time)
        if pending.isEmpty {
            warn("every process of it is gone after \(DurationParser.format(time.now - begin))")
        } else {
            survivors = pending
            warn(
                "still there \(DurationParser.format(time.now - begin)) after its main process exited, and after SIGKILL: "
                    + pending.joined(separator: "; "))
        }
    }

    /// What is still there of the last incarnation, once muster stopped waiting.
    func leftBehind() -> [String] { survivors.map { "\(plan.name): \($0)" } }
}

/// What a stopped incarnation may still hold: processes that are not gone yet, and
/// the engine's own condition (Postgres: nobody attached to its shared memory).
struct ReleaseCheck {
    var members: Set<ProcessInstance>
    var extra: (@Sendable () -> String?)?

    /// What is still there, each as one phrase; empty once everything is released.
    mutating func pending() -> [String] {
        members = members.filter { !ProcessTable.isGone($0) }
        var left = members.sorted { $0.pid < $1.pid }.map(ProcessTable.describe)
        if let held = extra?() { left.append(held) }
        return left
    }

    /// Looks again (after 1 ms, doubling to 50 ms) until everything is released or
    /// `limit` passed; returns what is still there.
    mutating func waitUntilReleased(within limit: Duration, on time: Timebase) async -> [String] {
        let deadline = time.deadline(after: limit)
        var delay: Duration = .milliseconds(1)
        var left = pending()
        while !left.isEmpty, time.now < deadline {
            try? await time.sleep(for: min(delay, max(deadline - time.now, .zero)))
            delay = min(delay * 2, .milliseconds(50))
            left = pending()
        }
        return left
    }
}

/// The last look after a whole stack stopped: whatever is still in its process
/// groups is killed, and waited for until it is gone.
public enum ProcessSweep {
    /// SIGKILLs each of `found` (those already exiting are only waited for), waits
    /// until all are gone or `limit` passed, and returns one phrase per finding:
    /// what was killed, and what is still there.
    public static func killAndAwait(
        _ found: [ProcessInfoEntry], within limit: Duration,
        on time: Timebase = .continuous()
    ) async -> [String] {
        var notes: [String] = []
        for entry in found {
            let instance = ProcessInstance(entry)
            if !entry.exiting {
                notes.append("\(ProcessTable.describe(instance)) was still running after the orderly stop; killed it")
                ProcessTable.signal(instance, SIGKILL)
            }
        }
        var check = ReleaseCheck(members: Set(found.map(ProcessInstance.init)), extra: nil)
        let pending = await check.waitUntilReleased(within: limit, on: time)
        return notes + pending.map { "\($0) is still there \(DurationParser.format(limit)) after SIGKILL" }
    }
}
