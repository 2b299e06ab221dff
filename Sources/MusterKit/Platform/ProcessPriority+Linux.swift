/// The CPU priority of another process (a Postgres backend copying a database for a
/// pool, kept out of the tests' way). Linux: glibc types `setpriority`'s first
/// argument as an enum of its own; elsewhere it is the plain `PRIO_PROCESS`.
enum ProcessPriority {
    /// Sets the nice value of `pid` (19 is the lowest priority); false where that is
    /// not allowed.
    @discardableResult
    static func setNice(_ value: Int32, of pid: id_t) -> Bool {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), pid, value) == 0
    }
}
