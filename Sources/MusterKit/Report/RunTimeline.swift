import Foundation

/// A saved run report (`muster run --report`), read back for drawing. Every key but
/// the run window is optional and every list is read element by element, so a report
/// written before `tests`, `disruptions` and `postgres` existed, or with one odd
/// entry, still draws (docs/notes ATTRIBUTION.md "The run report").
public struct RunTimeline: Sendable {
    /// One test as the report lists it (`tests[]`).
    public struct Test: Sendable, Equatable {
        public var id: String
        public var outcome: String
        public var start: Date
        public var end: Date
        public var worker: String
        public var source: String?
        /// Seqs of the disruptions the test overlapped.
        public var disruptions: [Int]
        /// The shard that ran it, in a merged report (`muster report --merge`).
        public var shard: String? = nil

        public var failed: Bool { outcome == "failed" || outcome == "error" }
    }

    /// One disruption of a service (`disruptions[]`), computed by `muster run`.
    public struct Disruption: Sendable, Equatable {
        public var seq: Int
        public var service: String
        public var kind: EventKind
        public var start: Date
        /// nil: still open when the report was written.
        public var end: Date?
        public var reason: String?
        public var logTail: [String]
        /// The shard whose service it was, in a merged report; `service` is then `SHARD/NAME`.
        public var shard: String? = nil
    }

    /// One report joined into a merged report: its lanes are the services named `NAME/…`
    /// and the tests whose `shard` is `NAME`.
    public struct Shard: Sendable, Equatable {
        public var name: String
        public var host: String?
        public var started: Date
        public var ended: Date
        public var exitCode: Int32?
    }

    /// One sample of a Postgres service's connection count.
    public struct ConnectionSample: Sendable, Equatable {
        public var time: Date
        public var total: Int
    }

    /// A Postgres service's connection pressure during the run (`postgres.NAME`).
    public struct Connections: Sendable, Equatable {
        public var service: String
        public var maxConnections: Int?
        public var peak: Int?
        public var samples: [ConnectionSample]
    }

    public var command: [String]
    public var started: Date
    public var ended: Date
    public var exitCode: Int32?
    /// Every service of the stack, by name, with the events of the run window.
    public var services: [String: [ServiceEvent]]
    public var disruptions: [Disruption]
    public var tests: [Test]
    public var postgres: [Connections]
    /// The shards of a merged report (`muster report --merge`), in their order; empty for one run.
    public var shards: [Shard] = []
    /// The muster that wrote the report (`muster_version`); nil in reports written before 0.6.0 had it.
    public var musterVersion: String?
    /// The shard this run was (`muster run --shard`), for a report of one run.
    public var shard: String?
    /// The machine it ran on (`host`).
    public var host: String?

    public init(
        command: [String], started: Date, ended: Date, exitCode: Int32?, services: [String: [ServiceEvent]],
        disruptions: [Disruption] = [], tests: [Test] = [], postgres: [Connections] = []
    ) {
        self.command = command
        self.started = started
        self.ended = ended
        self.exitCode = exitCode
        self.services = services
        self.disruptions = disruptions
        self.tests = tests
        self.postgres = postgres
    }

    /// Reads a report file; one line naming the file and what is wrong (exit 2) otherwise.
    public static func load(path: String) throws -> RunTimeline {
        guard let data = FileManager.default.contents(atPath: path) else {
            let what = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw MusterError(.usage, "\(path): \(what); pass the JSON file written by muster run --report")
        }
        return try decode(data, name: path)
    }

    public static func decode(_ data: Data, name: String) throws -> RunTimeline {
        guard let kind = JSONCursor.kind(ofWhole: data) else {
            throw MusterError(.usage, "\(name): not JSON; pass the file written by muster run --report")
        }
        guard kind == .object, let raw = try? ControlJSON.decode(RawReport.self, from: data) else {
            throw MusterError(
                .usage, "\(name): not a muster run report (expected an object with command, started and ended)")
        }
        guard let started = raw.started.flatMap(RFC3339.time), let ended = raw.ended.flatMap(RFC3339.time) else {
            throw MusterError(.usage, "\(name): not a muster run report (no valid started and ended times)")
        }
        return RunTimeline(raw, started: started, ended: ended)
    }

    private init(_ raw: RawReport, started: Date, ended: Date) {
        command = raw.command ?? []
        self.started = started
        self.ended = max(started, ended)
        exitCode = raw.exitCode
        services = (raw.services ?? [:]).mapValues { ($0.value?.events ?? []).compactMap(\.value) }
        disruptions = (raw.disruptions ?? []).compactMap(\.value).compactMap { entry in
            guard let seq = entry.seq, let service = entry.service, let start = entry.start.flatMap(RFC3339.time) else {
                return nil
            }
            return Disruption(
                seq: seq, service: service, kind: EventKind(rawValue: entry.kind ?? "disrupted"), start: start,
                end: entry.end.flatMap(RFC3339.time), reason: entry.reason, logTail: entry.logTail ?? [],
                shard: entry.shard)
        }
        tests = (raw.tests ?? []).compactMap(\.value).compactMap { entry in
            guard let id = entry.id, let start = entry.start.flatMap(RFC3339.time),
                let end = entry.end.flatMap(RFC3339.time)
            else { return nil }
            return Test(
                id: id, outcome: entry.outcome ?? "unknown", start: start, end: max(start, end),
                worker: entry.worker ?? "main", source: entry.source, disruptions: entry.disruptions ?? [],
                shard: entry.shard)
        }
        shards = (raw.shards ?? []).compactMap(\.value).compactMap { entry in
            guard let name = entry.name, let started = entry.started.flatMap(RFC3339.time),
                let ended = entry.ended.flatMap(RFC3339.time)
            else { return nil }
            return Shard(
                name: name, host: entry.host, started: started, ended: max(started, ended), exitCode: entry.exitCode)
        }
        musterVersion = raw.musterVersion
        shard = raw.shard
        host = raw.host
        postgres = (raw.postgres ?? [:]).keys.sorted().compactMap { name in
            guard let entry = raw.postgres?[name]?.value else { return nil }
            let samples = (entry.samples ?? []).compactMap(\.value).compactMap { sample -> ConnectionSample? in
                guard let time = sample.time.flatMap(RFC3339.time), let total = sample.total else { return nil }
                return ConnectionSample(time: time, total: total)
            }
            return Connections(
                service: name, maxConnections: entry.maxConnections, peak: entry.peak,
                samples: samples.sorted { $0.time < $1.time })
        }
    }
}

/// The report as JSON has it: every field optional, so that absence is decided above.
private struct RawReport: Decodable {
    struct Service: Decodable { var events: [Lenient<ServiceEvent>]? }
    struct Test: Decodable {
        var id: String?, outcome: String?, start: String?, end: String?, worker: String?, source: String?
        var disruptions: [Int]?
        var shard: String?
    }
    struct Disruption: Decodable {
        var seq: Int?, service: String?, kind: String?, start: String?, end: String?, reason: String?
        var logTail: [String]?
        var shard: String?
    }
    struct Shard: Decodable { var name: String?, host: String?, started: String?, ended: String?, exitCode: Int32? }
    struct Sample: Decodable { var time: String?, total: Int? }
    struct Postgres: Decodable { var maxConnections: Int?, peak: Int?, samples: [Lenient<Sample>]? }

    var command: [String]?
    var started: String?
    var ended: String?
    var exitCode: Int32?
    var services: [String: Lenient<Service>]?
    var disruptions: [Lenient<Disruption>]?
    var tests: [Lenient<Test>]?
    var postgres: [String: Lenient<Postgres>]?
    var shards: [Lenient<Shard>]?
    var musterVersion: String?
    var shard: String?
    var host: String?
}

/// One element that may fail to decode without failing its list.
private struct Lenient<Value: Decodable>: Decodable {
    var value: Value?
    init(from decoder: Decoder) throws { value = try? Value(from: decoder) }
}
