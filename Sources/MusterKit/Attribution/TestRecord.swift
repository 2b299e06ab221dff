import Foundation

/// One test run (one attempt) with its wall-clock interval, from the tests file
/// the pytest plugin writes (`MUSTER_TESTS_FILE`) or from another runner's report
/// (`muster run --tests FILE`). The unit the run report attributes disruptions to.
public struct TestRecord: Codable, Sendable, Equatable {
    public var id: String
    /// `passed`, `failed`, `error` or `skipped`.
    public var outcome: String
    public var start: String
    public var end: String
    /// The process that ran it (`gw1`, `main`, `w0`, a Go package): a lane in the picture.
    public var worker: String
    /// `pytest`, `playwright`, `junit`, `go`, or what the tests file says.
    public var source: String
    /// The `seq` of each disruption that overlapped it (filled by `TestAttribution`).
    public var disruptions: [Int]

    /// Seconds since 1970, parsed once.
    public var startSeconds: Double
    public var endSeconds: Double

    /// - Parameters: start and end are seconds since 1970; end before start is taken as start.
    public init(
        id: String, outcome: String, start: Double, end: Double, worker: String, source: String, disruptions: [Int] = []
    ) {
        // To whole microseconds, as written: the numbers then compare exactly with parsed event times.
        let start = RFC3339.rounded(start)
        let end = max(start, RFC3339.rounded(end))
        self.init(
            id: id, outcome: outcome, start: EventLog.timestamp(Date(timeIntervalSince1970: start)),
            end: EventLog.timestamp(Date(timeIntervalSince1970: end)), startSeconds: start, endSeconds: end,
            worker: worker, source: source, disruptions: disruptions)
    }

    /// The times as written and as parsed (no formatting: tests files hold many).
    init(
        id: String, outcome: String, start: String, end: String, startSeconds: Double, endSeconds: Double,
        worker: String, source: String, disruptions: [Int] = []
    ) {
        self.id = id
        self.outcome = outcome
        self.start = start
        self.end = end
        self.startSeconds = startSeconds
        self.endSeconds = endSeconds
        self.worker = worker
        self.source = source
        self.disruptions = disruptions
    }

    /// A failure of the test itself or of its setup/teardown.
    public var isFailure: Bool { outcome == "failed" || outcome == "error" }

    /// `JSONDecoder.userInfo` key: the `source` of records that name none.
    public static let defaultSource = CodingUserInfoKey(rawValue: "muster.defaultSource")!

    enum CodingKeys: String, CodingKey {
        case id, outcome, start, end, worker, source, disruptions
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let start = try container.decode(String.self, forKey: .start)
        let end = try container.decode(String.self, forKey: .end)
        guard let startSeconds = RFC3339.seconds(start), let endSeconds = RFC3339.seconds(end) else {
            throw DecodingError.dataCorruptedError(
                forKey: .start, in: container, debugDescription: "start and end must be RFC 3339 times")
        }
        id = try container.decode(String.self, forKey: .id)
        outcome = try container.decode(String.self, forKey: .outcome)
        self.start = start
        self.end = end
        self.startSeconds = startSeconds
        self.endSeconds = max(startSeconds, endSeconds)
        worker = try container.decodeIfPresent(String.self, forKey: .worker) ?? "main"
        source =
            try container.decodeIfPresent(String.self, forKey: .source)
            ?? decoder.userInfo[Self.defaultSource] as? String ?? "unknown"
        disruptions = try container.decodeIfPresent([Int].self, forKey: .disruptions) ?? []
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(start, forKey: .start)
        try container.encode(end, forKey: .end)
        try container.encode(worker, forKey: .worker)
        try container.encode(source, forKey: .source)
        try container.encode(disruptions, forKey: .disruptions)
    }
}

extension TestRecord {
    /// One line of a tests file: a JSON object with `id`, `outcome`, `start` and
    /// `end` (RFC 3339), and optionally `worker`, `source` and `disruptions`;
    /// other members are passed over. The same rules as `init(from:)`.
    init(json line: UnsafeRawBufferPointer, defaultSource: String) throws {
        var cursor = JSONCursor(line)
        var id: String?, outcome: String?, start: String?, end: String?
        var worker: String?, source: String?, disruptions: [Int]?
        var members = try cursor.beginObject()
        while let key = try cursor.nextKey(&members) {
            if try cursor.null() { continue }
            switch key {
            case "id": id = try cursor.string()
            case "outcome": outcome = try cursor.string()
            case "start": start = try cursor.string()
            case "end": end = try cursor.string()
            case "worker": worker = try cursor.string()
            case "source": source = try cursor.string()
            case "disruptions":
                var seqs: [Int] = []
                var elements = try cursor.beginArray()
                while try cursor.nextElement(&elements) { seqs.append(try cursor.integer()) }
                disruptions = seqs
            default: try cursor.skip()
            }
        }
        try cursor.end()
        guard let id, let outcome, let start, let end,
            let startSeconds = RFC3339.seconds(start), let endSeconds = RFC3339.seconds(end)
        else {
            throw cursor.fail("a test object needs id, outcome, and start and end as RFC 3339 times")
        }
        self.init(
            id: id, outcome: outcome, start: start, end: end, startSeconds: startSeconds,
            endSeconds: max(startSeconds, endSeconds), worker: worker ?? "main", source: source ?? defaultSource,
            disruptions: disruptions ?? [])
    }
}
