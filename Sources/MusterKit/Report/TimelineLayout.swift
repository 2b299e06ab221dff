import Foundation

/// The picture of a run as SVG geometry: every rectangle, line and label placed in
/// Swift, so that the template only prints coordinates and the layout is testable
/// without a browser. Time runs left to right on one shared scale; from top to
/// bottom: a lane per service, a connection gauge per Postgres service, a lane per
/// test worker. Every item carries its times in epoch milliseconds (`data-start`,
/// `data-end` in the page) so a reader of the DOM compares times, not pixels.
public struct TimelineLayout: Sendable {
    /// A horizontal band with its label in the left gutter.
    public struct Lane: Sendable, Equatable {
        public var label: String
        public var detail: String?
        public var y: Double
        public var height: Double
    }

    /// A coloured stretch of a service's lane: `starting`, `ready`, `down`, `unavailable`.
    public struct Span: Sendable, Equatable {
        public var service: String
        public var state: String
        public var x: Double, y: Double, width: Double, height: Double
        public var startMs: Int64, endMs: Int64
        public var title: String
    }

    /// A restart (`restarted` or `restart_detected`) at one instant of a service's lane.
    public struct Marker: Sendable, Equatable {
        public var service: String
        public var kind: EventKind
        public var x: Double, y: Double, height: Double
        public var atMs: Int64
        /// The disruption the restart belongs to, when the report lists disruptions.
        public var seq: Int?
        public var title: String
    }

    /// A disruption: an outline in its service's lane and a faint column over the whole chart.
    public struct Band: Sendable, Equatable {
        public var seq: Int
        public var service: String
        public var x: Double, width: Double
        public var laneY: Double, laneHeight: Double
        /// The faint column's extent: the whole chart, or in a merged report its shard's group of lanes.
        public var columnY: Double, columnHeight: Double
        public var startMs: Int64, endMs: Int64?
        public var title: String
    }

    /// One test in its worker's lane.
    public struct Bar: Sendable, Equatable {
        public var index: Int
        public var outcome: String
        public var failed: Bool
        public var x: Double, y: Double, width: Double, height: Double
        public var startMs: Int64, endMs: Int64
        public var disruptions: [Int]
        public var title: String
    }

    /// A Postgres service's connection count as a line under its `max_connections`.
    public struct Gauge: Sendable, Equatable {
        public var lane: Lane
        /// (x, y) of each sample.
        public var points: [(Double, Double)]
        /// y of the max_connections line, when known.
        public var limitY: Double?
        public var limit: Int?
        public var peak: Int?

        public static func == (a: Gauge, b: Gauge) -> Bool {
            a.lane == b.lane && a.limitY == b.limitY && a.limit == b.limit && a.peak == b.peak
                && a.points.map(\.0) == b.points.map(\.0) && a.points.map(\.1) == b.points.map(\.1)
        }
    }

    /// A section heading (`services`, `tests by worker`) at the top of its lanes.
    public struct Heading: Sendable, Equatable {
        public var text: String
        public var y: Double
    }

    public static let width = 1200.0
    public static let plotLeft = 170.0
    public static let plotRight = 1185.0
    /// Bars narrower than this are drawn this wide, so a 10 ms test among 10 000 still shows.
    public static let minimumBarWidth = 1.2

    public let start: Date
    public let end: Date
    public private(set) var height = 0.0
    /// Top and bottom of the area under the axis (where disruption columns are drawn).
    public private(set) var chartTop = 0.0
    public private(set) var chartBottom = 0.0
    public private(set) var ticks: [TimeAxis.Tick] = []
    public private(set) var headings: [Heading] = []
    public private(set) var serviceLanes: [Lane] = []
    public private(set) var workerLanes: [Lane] = []
    public private(set) var spans: [Span] = []
    public private(set) var markers: [Marker] = []
    public private(set) var bands: [Band] = []
    public private(set) var bars: [Bar] = []
    public private(set) var gauges: [Gauge] = []
    /// In a merged report, the y where each shard's group of lanes begins (a rule is drawn there).
    public private(set) var shardTops: [Double] = []
    /// In a merged report, each shard's group of lanes from top to bottom.
    private var shardGroups: [String: (top: Double, bottom: Double)] = [:]
    private var serviceLaneByName: [String: Lane] = [:]

    /// The time shown at the left edge and at the right edge: the run window, widened
    /// to take in every test.
    public static func domain(of run: RunTimeline) -> (Date, Date) {
        var start = run.started
        var end = run.ended
        for test in run.tests {
            start = min(start, test.start)
            end = max(end, test.end)
        }
        if end.timeIntervalSince(start) < 0.001 { end = start.addingTimeInterval(1) }
        return (start, end)
    }

    public init(_ run: RunTimeline) {
        (start, end) = Self.domain(of: run)
        var y = 0.0
        ticks = TimeAxis.ticks(from: start, to: end, left: Self.plotLeft, right: Self.plotRight)
        y += 30
        chartTop = y
        y += 6
        if run.shards.isEmpty {
            y = layoutServices(run, names: run.services.keys.sorted(), prefix: "", top: y, heading: "services")
            y = layoutPostgres(run, pools: run.postgres, prefix: "", top: y)
            y = layoutTests(
                run, indices: Array(run.tests.indices), top: y, heading: "tests by worker",
                laneHeight: Self.workerLaneHeight(lanes: Set(run.tests.map(\.worker)).count))
        } else {
            // A group of lanes per shard, on the one time axis: its services, its gauges, its workers.
            let lanes = Set(run.tests.map { "\($0.shard ?? "")\u{0}\($0.worker)" }).count
            let laneHeight = Self.workerLaneHeight(lanes: lanes)
            var byShard: [String: [Int]] = [:]
            for index in run.tests.indices { byShard[run.tests[index].shard ?? "", default: []].append(index) }
            for shard in run.shards {
                let prefix = shard.name + "/"
                let host = shard.host.map { " on \($0)" } ?? ""
                let count = byShard[shard.name, default: []].count
                headings.append(
                    Heading(text: "shard \(shard.name)\(host): \(count) test\(count == 1 ? "" : "s")", y: y + 12))
                shardTops.append(y)
                y += 18
                y = layoutServices(
                    run, names: run.services.keys.filter { $0.hasPrefix(prefix) }.sorted(), prefix: prefix, top: y,
                    heading: nil)
                y = layoutPostgres(
                    run, pools: run.postgres.filter { $0.service.hasPrefix(prefix) }, prefix: prefix, top: y)
                y = layoutTests(
                    run, indices: byShard[shard.name, default: []], top: y, heading: nil, laneHeight: laneHeight)
                shardGroups[shard.name] = (shardTops.last!, y)
                y += 6
            }
        }
        chartBottom = y
        height = y + 8
        layoutBands(run)
    }

    /// Worker lanes share about 320 units (16 shards of 8 workers: 6 each, the least).
    static func workerLaneHeight(lanes: Int) -> Double {
        min(18, max(6, (320 / Double(max(lanes, 1))).rounded(.down)))
    }

    /// The x coordinate of a time (clamped to the plot).
    public func x(_ date: Date) -> Double {
        let fraction = date.timeIntervalSince(start) / end.timeIntervalSince(start)
        return Self.plotLeft + min(max(fraction, 0), 1) * (Self.plotRight - Self.plotLeft)
    }

    /// - Parameter prefix: the shard's `SHARD/`, left out of the labels.
    private mutating func layoutServices(
        _ run: RunTimeline, names: [String], prefix: String, top: Double, heading: String?
    ) -> Double {
        guard !names.isEmpty else { return top }
        if let heading { headings.append(Heading(text: heading, y: top + 10)) }
        var y = top + (heading == nil ? 4 : 16)
        let laneHeight = 16.0
        for name in names {
            let lane = Lane(label: String(name.dropFirst(prefix.count)), detail: nil, y: y, height: laneHeight)
            serviceLanes.append(lane)
            serviceLaneByName[name] = lane
            let own = run.disruptions.filter { $0.service == name }
            for piece in ServiceStates.pieces(events: run.services[name] ?? [], disruptions: own, from: start, to: end)
            {
                let x0 = x(piece.start), x1 = x(piece.end)
                spans.append(
                    Span(
                        service: name, state: piece.state, x: x0, y: y, width: max(x1 - x0, 0.5), height: laneHeight,
                        startMs: Self.ms(piece.start), endMs: Self.ms(piece.end),
                        title: "\(name) \(piece.state) \(Clock.time(piece.start))–\(Clock.time(piece.end))"
                            + (piece.reason.map { " (\($0))" } ?? "")))
            }
            for event in run.services[name] ?? [] where event.type.isRestart {
                guard let date = event.date else { continue }
                let seq =
                    event.type == .restartDetected && own.contains { $0.seq == event.seq }
                    ? event.seq : own.first { $0.start <= date && date <= ($0.end ?? .distantFuture) }?.seq
                let what = event.type == .restarted ? "restarted" : "restarted without muster"
                markers.append(
                    Marker(
                        service: name, kind: event.type, x: x(date), y: y - 3, height: laneHeight + 6,
                        atMs: Self.ms(date), seq: seq,
                        title: "\(name) \(what) at \(Clock.time(date))" + (event.reason.map { ": \($0)" } ?? "")))
            }
            y += laneHeight + 6
        }
        return y + 4
    }

    private mutating func layoutPostgres(
        _ run: RunTimeline, pools: [RunTimeline.Connections], prefix: String, top: Double
    ) -> Double {
        var y = top
        for pool in pools where !pool.samples.isEmpty || pool.maxConnections != nil {
            if gauges.isEmpty && prefix.isEmpty {
                headings.append(Heading(text: "postgres connections", y: y + 10))
                y += 16
            }
            let laneHeight = 54.0
            let highest = max(pool.maxConnections ?? 0, pool.peak ?? 0, pool.samples.map(\.total).max() ?? 0, 1)
            let scale = { (count: Int) in y + laneHeight - Double(count) / Double(highest) * laneHeight }
            let detail = [pool.peak.map { "peak \($0)" }, pool.maxConnections.map { "of \($0)" }].compactMap { $0 }
                .joined(separator: " ")
            let lane = Lane(
                label: String(pool.service.dropFirst(prefix.count)), detail: detail.isEmpty ? nil : detail, y: y,
                height: laneHeight)
            gauges.append(
                Gauge(
                    lane: lane, points: pool.samples.map { (x($0.time), scale($0.total)) },
                    limitY: pool.maxConnections.map(scale), limit: pool.maxConnections, peak: pool.peak))
            y += laneHeight + 10
        }
        return y
    }

    private mutating func layoutTests(
        _ run: RunTimeline, indices: [Int], top: Double, heading: String?, laneHeight: Double
    ) -> Double {
        guard !indices.isEmpty else { return top }
        var perWorker: [String: Int] = [:]
        for index in indices { perWorker[run.tests[index].worker, default: 0] += 1 }
        let workers = perWorker.keys.sorted(by: Self.workerOrder)
        if let heading { headings.append(Heading(text: heading, y: top + 10)) }
        var y = top + (heading == nil ? 4 : 16)
        let gap = laneHeight >= 12 ? 4.0 : 1.0
        var laneY: [String: Double] = [:]
        for worker in workers {
            let count = perWorker[worker]!
            workerLanes.append(
                Lane(
                    label: worker, detail: laneHeight >= 12 ? "\(count) test" + (count == 1 ? "" : "s") : nil,
                    y: y, height: laneHeight))
            laneY[worker] = y
            y += laneHeight + gap
        }
        // Failures last, so that they are drawn over their neighbours.
        let order = indices.sorted { (run.tests[$0].failed ? 1 : 0, $0) < (run.tests[$1].failed ? 1 : 0, $1) }
        bars += order.map { index in
            let test = run.tests[index]
            let x0 = x(test.start), x1 = x(test.end)
            let seconds = test.end.timeIntervalSince(test.start)
            // Wide bars give up one unit at their right end, so that back-to-back tests stay apart.
            let width = x1 - x0 > 4 ? x1 - x0 - 1 : max(x1 - x0, Self.minimumBarWidth)
            return Bar(
                index: index, outcome: test.outcome, failed: test.failed, x: x0, y: laneY[test.worker]!,
                width: width, height: laneHeight,
                startMs: Self.ms(test.start), endMs: Self.ms(test.end), disruptions: test.disruptions,
                title:
                    "\(test.id) \(test.outcome) on \(test.shard.map { "shard \($0) " } ?? "")\(test.worker), \(Clock.time(test.start)) for \(Clock.duration(seconds))"
            )
        }
        return y + 2
    }

    private mutating func layoutBands(_ run: RunTimeline) {
        let lanes = serviceLaneByName
        bands = run.disruptions.compactMap { disruption in
            let close = disruption.end ?? end
            guard close >= start, disruption.start <= end else { return nil }
            let x0 = x(disruption.start)
            let lane = lanes[disruption.service]
            let column = disruption.shard.flatMap { shardGroups[$0] } ?? (chartTop, chartBottom)
            let until = disruption.end.map { "–" + Clock.time($0) } ?? " (still open)"
            return Band(
                seq: disruption.seq, service: disruption.service, x: x0, width: max(x(close) - x0, 2),
                laneY: lane?.y ?? chartTop, laneHeight: lane?.height ?? 0,
                columnY: column.top, columnHeight: column.bottom - column.top,
                startMs: Self.ms(disruption.start), endMs: disruption.end.map(Self.ms),
                title: "\(disruption.service) \(disruption.kind) \(Clock.time(disruption.start))\(until)"
                    + (disruption.reason.map { ": \($0)" } ?? ""))
        }
    }

    static func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// `main` first, then gw0, gw1, …, gw10 in numeric order, then other names.
    static func workerOrder(_ a: String, _ b: String) -> Bool {
        func key(_ name: String) -> (Int, Int, String) {
            if name == "main" { return (0, 0, name) }
            let digits = name.reversed().prefix { $0.isNumber }
            if let number = Int(String(digits.reversed())) { return (1, number, String(name.dropLast(digits.count))) }
            return (2, 0, name)
        }
        let (ka, kb) = (key(a), key(b))
        return (ka.0, ka.2, ka.1) < (kb.0, kb.2, kb.1)
    }
}

/// Times as people read them in the picture: UTC wall clock and short durations.
enum Clock {
    /// `08:00:01.123` (UTC, rounded to the millisecond).
    static func time(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var whole = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        return String(format: "%02d:%02d:%02d.%03d", parts.tm_hour, parts.tm_min, parts.tm_sec, Int(ms % 1000))
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        return whole < 3600
            ? "\(whole / 60)m\(String(format: "%02d", whole % 60))s"
            : "\(whole / 3600)h\(String(format: "%02d", whole / 60 % 60))m"
    }
}
