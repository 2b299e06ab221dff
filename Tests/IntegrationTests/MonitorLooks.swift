import Foundation
@testable import MusterKit

/// The Postgres monitor's looks as Postgres itself sees them, for tests that must wait
/// until the monitor has looked rather than for a guessed time: each look runs the
/// monitor's query on its own connection (`application_name=muster-monitor`), so a new
/// (backend pid, query_start) of that query, finished, is one more look. Polling may miss
/// a look; it never counts one that did not happen.
final class PostgresMonitorLooks {
    private let conninfo: String
    private var client: PostgresConnection?
    private var seen: Set<String> = []

    init(port: String) {
        conninfo =
            "host=127.0.0.1 port=\(port) user=postgres dbname=postgres connect_timeout=2 application_name=monitor-looks"
    }

    /// Waits until the monitor has finished `count` looks beyond those already seen
    /// (one in flight now counts once it ends). Reconnects when Postgres dropped this
    /// connection (a crash reinitialises it).
    func waitForMore(_ count: Int, within limit: Duration = .seconds(30)) async -> Bool {
        poll()
        let base = seen.count
        return await eventually(within: limit) {
            poll()
            return seen.count >= base + count
        }
    }

    private func poll() {
        do {
            if client == nil { client = try PostgresConnection(conninfo) }
            let look = try client?.value(
                """
                SELECT pid || ' ' || query_start FROM pg_stat_activity
                WHERE application_name = 'muster-monitor' AND state = 'idle' AND query LIKE '%pg_postmaster_start_time%'
                """)
            if let look { seen.insert(look) }
        } catch {
            client = nil
        }
    }
}

/// The Redis monitor's looks: it sends `INFO server` once per look, and Redis counts
/// every INFO it answered (`cmdstat_info`). The count includes this helper's own
/// `INFO commandstats`, which it subtracts.
final class RedisMonitorLooks {
    private let client: RESPClient
    private var ownCalls = 0

    init(port: Int) throws {
        client = try RESPClient(host: "127.0.0.1", port: port, timeout: .seconds(5))
    }

    /// INFO commands answered, not counting this helper's.
    private func othersCalls() -> Int? {
        defer { ownCalls += 1 }
        guard case let .bulk(stats?) = try? client.command(["INFO", "commandstats"]),
            let line = RESPClient.infoField("cmdstat_info", in: stats),
            let calls = line.split(separator: ",").first?.split(separator: "=").last.flatMap({ Int($0) })
        else { return nil }
        return calls - ownCalls
    }

    /// Waits until `count` more INFO commands than now were answered: the monitor's
    /// looks once the stack is ready (nothing else sends INFO then).
    func waitForMore(_ count: Int, within limit: Duration = .seconds(30)) async -> Bool {
        guard let base = othersCalls() else { return false }
        return await eventually(within: limit) { (othersCalls() ?? 0) >= base + count }
    }
}
