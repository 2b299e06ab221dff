import Foundation

/// How close a Postgres service came to `max_connections` while CMD ran, and
/// who held the connections at the peak: the cause behind "too many clients
/// already" failures, beside the tests they broke.
public struct PostgresPressure: Codable, Sendable, Equatable {
    public struct Sample: Codable, Sendable, Equatable {
        public var time: String
        /// Client backends (every connection an application holds, muster's own included).
        public var total: Int
    }

    public var maxConnections: Int
    public var peak: Int
    public var peakAt: String?
    /// Connections by `application_name` (the user name when it is empty) at the peak.
    public var byApplication: [String: Int]
    public var samples: [Sample]

    public init(
        maxConnections: Int, peak: Int = 0, peakAt: String? = nil, byApplication: [String: Int] = [:],
        samples: [Sample] = []
    ) {
        self.maxConnections = maxConnections
        self.peak = peak
        self.peakAt = peakAt
        self.byApplication = byApplication
        self.samples = samples
    }

    /// Above this share of `max_connections` the summary shows the peak (as `PostgresMonitor` warns).
    public static let warnAbove = 0.8

    /// The peak as a share of `max_connections` (0...1).
    public var peakShare: Double { maxConnections > 0 ? Double(peak) / Double(maxConnections) : 0 }

    /// Folds one look into the figures: `rows` are (application, count).
    mutating func add(time: Date, rows: [(String, Int)], maxConnections: Int) {
        let total = rows.reduce(0) { $0 + $1.1 }
        let stamp = EventLog.timestamp(time)
        samples.append(Sample(time: stamp, total: total))
        self.maxConnections = maxConnections
        if total > peak || peakAt == nil {
            peak = total
            peakAt = stamp
            byApplication = Dictionary(rows, uniquingKeysWith: +)
        }
    }

    /// `db: connections peaked at 170 of max_connections 200 (85 %) at 12:00:01; held by api (120), pytest (50)`.
    public func line(service: String) -> String {
        let holders = byApplication.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map {
            "\($0.key) (\($0.value))"
        }
        return
            "\(service): connections peaked at \(peak) of max_connections \(maxConnections) (\(Int((peakShare * 100).rounded())) %)"
            + (holders.isEmpty ? "" : "; held by " + holders.joined(separator: ", "))
    }
}

/// Samples each Postgres service's connections on a thread of its own (the
/// queries block), over MusterKit's `PostgresConnection` through the service's
/// unix socket, like `PostgresMonitor` does. A look that fails (the server is
/// restarting) is skipped; the connection is made again at the next one.
/// Unchecked: its samples and connection are touched only under its lock.
public final class PostgresPressureSampler: @unchecked Sendable {
    public struct Target: Sendable {
        public var service: String
        public var socketDir: String
        public var port: Int

        public init(service: String, socketDir: String, port: Int) {
            self.service = service
            self.socketDir = socketDir
            self.port = port
        }
    }

    static let query = """
        SELECT coalesce(nullif(application_name, ''), usename::text, 'unknown'), count(*)::text, current_setting('max_connections')
        FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1
        """

    private let targets: [Target]
    private let interval: TimeInterval
    private let lock = NSLock()
    private var figures: [String: PostgresPressure] = [:]
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private var thread: Thread?

    public init(targets: [Target], interval: Duration = .milliseconds(250)) {
        self.targets = targets
        self.interval = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
    }

    public func start() {
        guard !targets.isEmpty else { return }
        let thread = Thread { [self] in loop() }
        thread.name = "muster-pg-pressure"
        self.thread = thread
        thread.start()
    }

    /// Stops sampling (after one last look) and returns the figures of every
    /// service that answered at least once.
    public func stop() -> [String: PostgresPressure] {
        guard thread != nil else { return [:] }
        lock.lock()
        stopping = true
        lock.unlock()
        finished.wait()
        lock.lock()
        defer { lock.unlock() }
        return figures
    }

    private func loop() {
        var connections: [String: PostgresConnection] = [:]
        while true {
            lock.lock()
            let last = stopping
            lock.unlock()
            for target in targets { look(at: target, connections: &connections) }
            if last { break }
            Thread.sleep(forTimeInterval: interval)
        }
        connections.values.forEach { $0.close() }
        finished.signal()
    }

    private func look(at target: Target, connections: inout [String: PostgresConnection]) {
        do {
            if connections[target.service] == nil {
                connections[target.service] = try PostgresConnection(
                    "host=\(PostgresConnection.conninfoValue(target.socketDir)) port=\(target.port) user=\(PostgresEngine.superuser) dbname=postgres connect_timeout=2 application_name=muster-run"
                )
            }
            let rows = try connections[target.service]!.query(Self.query)
            let parsed = rows.compactMap { row -> (String, Int)? in
                guard row.count == 3, let name = row[0], let count = row[1].flatMap({ Int($0) }) else { return nil }
                return (name, count)
            }
            guard let limit = rows.first?[2].flatMap({ Int($0) }) else { return }
            lock.lock()
            figures[target.service, default: PostgresPressure(maxConnections: limit)].add(
                time: Date(), rows: parsed, maxConnections: limit)
            lock.unlock()
        } catch {
            connections[target.service] = nil
        }
    }
}
