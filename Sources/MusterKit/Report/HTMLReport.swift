import Foundation
import Mustache

/// The run report as one self-contained HTML page: a header with the facts, the
/// timeline (``TimelineLayout``) as inline SVG, and the failing tests with the
/// disruptions they overlapped. The page is rendered from a mustache template, so
/// every text that came from the report (test ids, reasons, log lines) is escaped.
public enum HTMLReport {
    /// Failing tests listed in the table at most; the picture still shows them all.
    public static let tableLimit = 500

    public static func render(_ run: RunTimeline) -> String {
        let layout = TimelineLayout(run)
        // The template is a constant of this module; a parse error is a programming error.
        let template = try! MustacheTemplate(string: HTMLReportTemplate.page)
        return template.render(page(run, layout: layout))
    }

    /// Writes the page; a folder that does not exist or cannot be written is a usage error.
    public static func write(_ run: RunTimeline, to path: String) throws {
        try ReportFile.write(Data(render(run).utf8), to: path, what: "HTML report")
    }

    /// Everything the template prints, as dictionaries of strings (no reflection, and
    /// coordinates already rounded).
    static func page(_ run: RunTimeline, layout: TimelineLayout) -> TemplateFields {
        let failing = run.tests.indices.filter { run.tests[$0].failed }
            .sorted {
                (run.tests[$0].disruptions.isEmpty ? 1 : 0, run.tests[$0].start) < (
                    run.tests[$1].disruptions.isEmpty ? 1 : 0, run.tests[$1].start
                )
            }
        let bySeq = Dictionary(run.disruptions.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        let outcomes = Dictionary(grouping: run.tests, by: \.outcome).mapValues(\.count)
        var counts = ["\(run.tests.count) test" + (run.tests.count == 1 ? "" : "s")]
        for outcome in ["failed", "error", "passed", "skipped"] where outcomes[outcome, default: 0] > 0 {
            counts.append("\(outcomes[outcome]!) \(outcome)")
        }
        let hitFailures = failing.filter { !run.tests[$0].disruptions.isEmpty }.count
        let services = Set(run.disruptions.map(\.service)).sorted()
        let exitCode = run.exitCode.map(String.init) ?? "?"
        let shardHosts = run.shards.map { $0.name + ($0.host.map { " (\($0))" } ?? "") }
        return [
            "shards": run.shards.isEmpty ? "" : "\(run.shards.count) shards: " + shardHosts.joined(separator: ", "),
            "command": run.command.joined(separator: " "),
            "exitCode": exitCode,
            "exitBad": run.exitCode != 0,
            "duration": Clock.duration(run.ended.timeIntervalSince(run.started)),
            "started": String(EventLog.timestamp(run.started).prefix(10)) + " " + Clock.time(run.started) + " UTC",
            "testCounts": run.tests.isEmpty ? "no tests recorded" : counts.joined(separator: ", "),
            "disruptionCount": run.disruptions.isEmpty
                ? "no disruption"
                : "\(run.disruptions.count) disruption\(run.disruptions.count == 1 ? "" : "s") ("
                    + (services.count > 6 ? "\(services.count) services" : services.joined(separator: ", ")) + ")",
            "attribution": failing.isEmpty
                ? ""
                : "\(hitFailures) of \(failing.count) failing test\(failing.count == 1 ? "" : "s") overlapped a disruption",
            "svg": svg(layout),
            "failures": failing.prefix(tableLimit).map { failureRow(run.tests[$0], index: $0, disruptions: bySeq) },
            "hasFailures": !failing.isEmpty,
            "moreFailures": failing.count > tableLimit
                ? "… and \(failing.count - tableLimit) more failing tests, shown in the picture" : "",
            "disruptions": run.disruptions.map { disruptionRow($0, tests: run.tests) },
            "hasDisruptions": !run.disruptions.isEmpty,
        ]
    }

    static func svg(_ layout: TimelineLayout) -> TemplateFields {
        let lanes =
            layout.serviceLanes.map { lane($0, kind: "service") } + layout.workerLanes.map { lane($0, kind: "worker") }
            + layout.gauges.map { lane($0.lane, kind: "gauge") }
        return [
            "width": f(TimelineLayout.width), "height": f(layout.height),
            "plotLeft": f(TimelineLayout.plotLeft), "plotRight": f(TimelineLayout.plotRight),
            "plotWidth": f(TimelineLayout.plotRight - TimelineLayout.plotLeft),
            "chartTop": f(layout.chartTop), "chartBottom": f(layout.chartBottom),
            "shardRules": layout.shardTops.map { ["y": f($0)] },
            "ticks": layout.ticks.map { ["x": f($0.x), "label": $0.label] as TemplateFields },
            "headings": layout.headings.map { ["y": f($0.y), "text": $0.text] as TemplateFields },
            "lanes": lanes,
            "bands": layout.bands.map { band in
                [
                    "seq": band.seq, "x": f(band.x), "width": f(band.width), "y": f(band.columnY),
                    "height": f(band.columnHeight),
                    "laneY": f(band.laneY - 1), "laneHeight": f(band.laneHeight + 2), "start": band.startMs,
                    "end": band.endMs.map(String.init) ?? "", "title": band.title,
                ] as TemplateFields
            },
            "spans": layout.spans.map { span in
                [
                    "state": span.state, "x": f(span.x), "y": f(span.y), "width": f(span.width),
                    "height": f(span.height),
                    "start": span.startMs, "end": span.endMs, "title": span.title,
                ] as TemplateFields
            },
            "markers": layout.markers.map { marker in
                [
                    "kind": marker.kind.rawValue, "x": f(marker.x), "y": f(marker.y),
                    "bottom": f(marker.y + marker.height),
                    "head": "M\(f(marker.x - 4.5)),\(f(marker.y - 5))h9l-4.5,7z", "at": marker.atMs,
                    "hasSeq": marker.seq != nil, "seq": marker.seq.map(String.init) ?? "", "title": marker.title,
                ] as TemplateFields
            },
            "gauges": layout.gauges.map { gauge in
                [
                    "points": gauge.points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "),
                    "hasLimit": gauge.limitY != nil, "limitY": f(gauge.limitY ?? 0),
                    "limitLabelY": f((gauge.limitY ?? 0) - 3),
                    "limitLabel": gauge.limit.map { "max_connections \($0)" } ?? "",
                    "baseY": f(gauge.lane.y + gauge.lane.height),
                ] as TemplateFields
            },
            "bars": layout.bars.map { bar in
                [
                    "index": bar.index, "outcome": bar.outcome, "x": f(bar.x), "y": f(bar.y), "width": f(bar.width),
                    "height": f(bar.height), "start": bar.startMs, "end": bar.endMs, "failed": bar.failed,
                    "disruptions": bar.disruptions.map(String.init).joined(separator: " "), "title": bar.title,
                ] as TemplateFields
            },
        ]
    }

    static func lane(_ lane: TimelineLayout.Lane, kind: String) -> TemplateFields {
        [
            "kind": kind, "small": lane.height < 12, "label": lane.label, "detail": lane.detail ?? "",
            "hasDetail": lane.detail != nil,
            "y": f(lane.y), "height": f(lane.height), "textY": f(lane.y + lane.height / 2 + (lane.height < 12 ? 3 : 4)),
            // Tall lanes (the connection gauge) put the detail under the label, thin ones at the gutter's left.
            "detailX": f(lane.height >= 28 ? TimelineLayout.plotLeft - 8 : 8),
            "detailAnchor": lane.height >= 28 ? "end" : "start",
            "detailY": f(lane.height >= 28 ? lane.y + lane.height / 2 + 16 : lane.y + lane.height / 2 + 4),
            "labelX": f(TimelineLayout.plotLeft - 8), "plotLeft": f(TimelineLayout.plotLeft),
            "plotWidth": f(TimelineLayout.plotRight - TimelineLayout.plotLeft),
        ]
    }

    static func failureRow(_ test: RunTimeline.Test, index: Int, disruptions: [Int: RunTimeline.Disruption])
        -> TemplateFields
    {
        let hits = test.disruptions.map { seq -> TemplateFields in
            guard let d = disruptions[seq] else { return ["seq": seq, "text": "disruption \(seq)"] }
            return [
                "seq": seq,
                "text": "\(d.service) \(d.kind.rawValue) at \(Clock.time(d.start))"
                    + (d.reason.map { " (\($0))" } ?? ""),
            ]
        }
        return [
            "index": index, "id": test.id, "outcome": test.outcome,
            "worker": (test.shard.map { "\($0) · " } ?? "") + test.worker,
            "start": Clock.time(test.start),
            "took": Clock.duration(test.end.timeIntervalSince(test.start)), "hits": hits, "hasHits": !hits.isEmpty,
            "seqs": test.disruptions.map(String.init).joined(separator: " "),
        ]
    }

    static func disruptionRow(_ d: RunTimeline.Disruption, tests: [RunTimeline.Test]) -> TemplateFields {
        let hit = tests.filter { $0.disruptions.contains(d.seq) }
        return [
            "seq": d.seq, "service": d.service, "kind": d.kind.rawValue, "start": Clock.time(d.start),
            "end": d.end.map(Clock.time) ?? "still open", "reason": d.reason ?? "",
            "logTail": d.logTail.suffix(5).joined(separator: "\n"),
            "hasLog": !d.logTail.isEmpty, "tests": "\(hit.filter(\.failed).count) failed of \(hit.count)",
        ]
    }

    /// SVG coordinates with two decimals at most.
    static func f(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// What the page template prints: texts, numbers, flags (a section shown or not), lists
/// (a section repeated) and rows of named values; nothing else reaches the template.
protocol TemplateValue {}
typealias TemplateFields = [String: any TemplateValue]
extension String: TemplateValue {}
extension Int: TemplateValue {}
extension Int64: TemplateValue {}
extension Bool: TemplateValue {}
extension Array: TemplateValue where Element: TemplateValue {}
extension Dictionary: TemplateValue where Key == String, Value == any TemplateValue {}
