import Foundation

/// Watches a ready Postgres over one long-lived connection of its own
/// (`application_name=muster-monitor`):
/// - its identity is the postmaster's start time plus the checkpointer's pid. A
///   crash of one backend makes the postmaster drop every connection and
///   reinitialise in place with the same pid but a new checkpointer; a real
///   restart changes the start time.
/// - connection pressure: client backends against `max_connections`. Above
///   80 % it warns once, naming who holds the connections, and warns again only
///   after usage has fallen below 70 %.
/// Unchecked: one monitoring task calls it, one check after another.
final class PostgresMonitor: ServiceMonitor, @unchecked Sendable {
    let interval: Duration
    private let conninfo: String
    private var connection: PostgresConnection?
    private var identity = IdentityTracker()
    private var warned = false
    /// A crash was reported while Postgres was still recovering; the new identity
    /// it comes back with is that same event.
    private var reportedReinit = false
    static let warnAbove = 0.8
    static let rearmBelow = 0.7

    init(socketDir: String, port: Int, interval: Duration = .milliseconds(500)) {
        self.interval = interval
        conninfo =
            "host=\(PostgresConnection.conninfoValue(socketDir)) port=\(port) user=\(PostgresEngine.superuser) dbname=postgres connect_timeout=2 application_name=muster-monitor"
    }

    func sample(leader: Int32, at look: Date) async -> [MonitorFinding] {
        await offload { self.sampleNow(sent: look) }
    }

    func close() {
        connection = nil
    }

    static let query = """
        SELECT pg_postmaster_start_time()::text || '|' ||
               coalesce((SELECT pid::text FROM pg_stat_activity WHERE backend_type = 'checkpointer'), '') || '|' ||
               (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::text || '|' ||
               current_setting('max_connections')
        """

    static let holders = """
        SELECT string_agg(name || ' (' || n || ')', ', ' ORDER BY n DESC, name) FROM (
          SELECT coalesce(nullif(application_name, ''), usename::text, 'unknown') AS name, count(*) AS n
          FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1) t
        """

    private func sampleNow(sent: Date) -> [MonitorFinding] {
        // The identity a look finds held at least until the look was sent: its `since`.
        var row: String?
        do {
            row = try fetch()
        } catch {
            // The connection broke: reinitialised, restarted, or just terminated. Look again at once.
            let lost = connection != nil
            connection = nil
            do {
                row = try fetch()
            } catch {
                // Refused "in recovery mode" right after losing the connection: the
                // postmaster is reinitialising in place after a backend crashed.
                let text = "\(error)"
                if lost, identity.current != nil, !reportedReinit,
                    text.contains("recovery mode") || text.contains("starting up") || text.contains("not yet accepting")
                {
                    reportedReinit = true
                    return [
                        .restartDetected(
                            reason:
                                "postgres is reinitialising after a backend crashed: every connection was dropped, same postmaster",
                            previousPid: nil, since: identity.seenAt)
                    ]
                }
                return []
            }
        }
        guard let row else { return [] }
        let fields = row.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        // No checkpointer yet: Postgres is between reinitialising and running again.
        guard fields.count == 4, !fields[1].isEmpty else { return [] }
        var findings: [MonitorFinding] = []
        if let previous = identity.observe(fields[0] + "|" + fields[1], at: sent), !reportedReinit {
            let oldStart = previous.split(separator: "|").first.map(String.init)
            let reason =
                oldStart == fields[0]
                ? "postgres reinitialised in place after a crash (same postmaster, new checkpointer; every connection was dropped)"
                : "postgres restarted (postmaster start time \(oldStart ?? "?") → \(fields[0]))"
            findings.append(.restartDetected(reason: reason, previousPid: nil, since: identity.previousSeenAt))
        }
        reportedReinit = false
        if let used = Double(fields[2]), let limit = Double(fields[3]), limit > 0 {
            let share = used / limit
            if !warned, share > Self.warnAbove {
                warned = true
                let who = (try? connection?.value(Self.holders)) ?? nil
                findings.append(
                    .warning(
                        "connections at \(Int(used)) of max_connections \(Int(limit)) (\(Int((share * 100).rounded())) %)"
                            + (who.map { "; held by \($0)" } ?? "")))
            } else if warned, share < Self.rearmBelow {
                warned = false
            }
        }
        return findings
    }

    private func fetch() throws -> String? {
        if connection == nil { connection = try PostgresConnection(conninfo) }
        return try connection?.value(Self.query)
    }
}

/// Watches a ready Redis over one connection of its own: its identity is
/// `run_id`, which changes on every start, including an in-place restart
/// (`DEBUG RESTART` re-executes the server under the same pid).
/// Unchecked: one monitoring task calls it, one check after another.
final class RedisMonitor: ServiceMonitor, @unchecked Sendable {
    let interval: Duration
    private let port: Int
    private let password: String?
    private var client: RESPClient?
    private var identity = IdentityTracker()

    init(port: Int, password: String?, interval: Duration = .milliseconds(500)) {
        self.port = port
        self.password = password
        self.interval = interval
    }

    func sample(leader: Int32, at look: Date) async -> [MonitorFinding] {
        await offload { self.sampleNow(sent: look) }
    }

    func close() {
        client = nil
    }

    private func sampleNow(sent: Date) -> [MonitorFinding] {
        // The identity a look finds held at least until the look was sent: its `since`
        // (a time taken after the answer could fall after the restart on a loaded machine).
        var runID = try? fetch()
        if runID == nil {
            client = nil
            runID = try? fetch()
        }
        guard let runID, let previous = identity.observe(runID, at: sent) else { return [] }
        return [
            .restartDetected(
                reason: "redis restarted (run_id \(previous.prefix(8))… → \(runID.prefix(8))…)", previousPid: nil,
                since: identity.previousSeenAt)
        ]
    }

    private func fetch() throws -> String? {
        if client == nil {
            client = try RESPClient(host: "127.0.0.1", port: port, timeout: .seconds(2), password: password)
        }
        guard case let .bulk(info?) = try client?.command(["INFO", "server"]) else { return nil }
        return RESPClient.infoField("run_id", in: info)
    }
}
