import Foundation

/// `muster report --merge`: joins the run reports of the shards of one suite, run on
/// different machines, into one report of the same shape. Each shard keeps what is its
/// own: its services become `SHARD/NAME`, its disruptions are renumbered (`seq`, with
/// the shard's own as `shard_seq`) and named `SHARD/NAME`, its tests gain `shard` and
/// keep the disruptions their own run attributed to them (never another shard's). A
/// `shards` list and one `summary` are added.
public enum ReportMerge {
    public struct Result {
        /// The merged report as written by `-o`.
        public var json: Data
        public var timeline: RunTimeline
        /// The lines after the merge: counts, then the failing tests by what they overlapped.
        public var lines: [String]
    }

    /// One report read and checked.
    struct Shard {
        var path: String
        var name: String
        /// The report as read, carried into the merge field by field.
        var report: JSONValue
        var timeline: RunTimeline
    }

    public static func merge(paths: [String]) throws -> Result {
        guard paths.count >= 2 else {
            throw MusterError(
                .usage, "--merge needs two reports or more; pass the JSON files written by muster run --report")
        }
        var shards = try paths.map(read)
        try name(&shards)
        return try join(shards)
    }

    static func read(_ path: String) throws -> Shard {
        let timeline = try RunTimeline.load(path: path)
        guard let data = FileManager.default.contents(atPath: path), let report = try? JSONValue.parse(data),
            report.objectMembers != nil
        else {
            throw MusterError(.usage, "\(path): cannot be read; pass the JSON file written by muster run --report")
        }
        if report["shards"] != nil {
            throw MusterError(
                .usage, "\(path): already a merged report; merge the shards' own reports (muster run --report) instead")
        }
        guard let version = timeline.musterVersion else {
            throw MusterError(
                .usage,
                "\(path): written by a muster older than 0.6.0 (it has no muster_version); rerun that shard with muster \(BuildInfo.version)"
            )
        }
        guard version == BuildInfo.version else {
            throw MusterError(
                .usage,
                "\(path): written by muster \(version), and this is muster \(BuildInfo.version); merge reports of one muster version (run that shard with \(BuildInfo.version), or merge with muster \(version))"
            )
        }
        return Shard(path: path, name: timeline.shard ?? "", report: report, timeline: timeline)
    }

    /// Shards without `--shard` are named after their file (`shard-2.json` is `shard-2`),
    /// or after its folder when their files share a name (CI artifacts: `shard-2/muster-report.json`).
    /// Two reports of one shard are refused, naming both.
    static func name(_ shards: inout [Shard]) throws {
        let unnamed = shards.indices.filter { shards[$0].name.isEmpty }
        let stems = unnamed.map { ((shards[$0].path as NSString).lastPathComponent as NSString).deletingPathExtension }
        let shared = Set(stems.filter { stem in stems.filter { $0 == stem }.count > 1 })
        for (index, stem) in zip(unnamed, stems) {
            let folder = ((shards[index].path as NSString).deletingLastPathComponent as NSString).lastPathComponent
            shards[index].name = shared.contains(stem) && !folder.isEmpty && folder != "." ? folder : stem
        }
        var seen: [String: String] = [:]
        for shard in shards {
            if let first = seen[shard.name] {
                throw MusterError(
                    .usage,
                    "\(first) and \(shard.path) are both shard \"\(shard.name)\"; merge each shard's report once (muster run --shard NAME names a shard)"
                )
            }
            seen[shard.name] = shard.path
        }
    }

    static func join(_ shards: [Shard]) throws -> Result {
        var services: [JSONValue.Member] = []
        var postgres: [JSONValue.Member] = []
        var disruptions: [JSONValue] = []
        var tests: [JSONValue] = []
        var list: [JSONValue] = []
        var nextSeq = 1
        // The merged timeline is built beside the JSON, from the shards' own (reading 50 000 tests back costs seconds).
        var drawn = RunTimeline(command: [], started: Date(), ended: Date(), exitCode: 0, services: [:])
        for shard in shards {
            let prefix = shard.name + "/"
            for entry in shard.report["services"]?.objectMembers ?? [] {
                var summary = entry.value
                guard summary.objectMembers != nil else { continue }
                summary["shard"] = .string(shard.name)
                summary["service"] = .string(entry.key)
                services.append(.init(prefix + entry.key, summary))
            }
            for entry in shard.report["postgres"]?.objectMembers ?? [] {
                postgres.append(.init(prefix + entry.key, entry.value))
            }
            var seqs: [Int: Int] = [:]
            for var disruption in shard.report["disruptions"]?.arrayValue ?? [] {
                guard let seq = disruption["seq"]?.intValue, let service = disruption["service"]?.stringValue else {
                    continue
                }
                seqs[seq] = nextSeq
                disruption["seq"] = .int(nextSeq)
                disruption["shard_seq"] = .int(seq)
                disruption["shard"] = .string(shard.name)
                disruption["service"] = .string(prefix + service)
                disruptions.append(disruption)
                nextSeq += 1
            }
            let own = shard.timeline
            for (name, events) in own.services { drawn.services[prefix + name] = events }
            drawn.postgres += own.postgres.map { pool in
                var pool = pool
                pool.service = prefix + pool.service
                return pool
            }
            drawn.disruptions += own.disruptions.compactMap { disruption in
                guard let seq = seqs[disruption.seq] else { return nil }
                var disruption = disruption
                disruption.seq = seq
                disruption.service = prefix + disruption.service
                disruption.shard = shard.name
                return disruption
            }
            drawn.tests += own.tests.map { test in
                var test = test
                test.shard = shard.name
                test.disruptions = test.disruptions.compactMap { seqs[$0] }
                return test
            }
            drawn.shards.append(
                RunTimeline.Shard(
                    name: shard.name, host: own.host, started: own.started, ended: own.ended,
                    exitCode: own.exitCode))
            var count = 0
            for var test in shard.report["tests"]?.arrayValue ?? [] where test.objectMembers != nil {
                test["shard"] = .string(shard.name)
                test["disruptions"] = .array(
                    (test["disruptions"]?.arrayValue ?? []).compactMap { $0.intValue.flatMap { seqs[$0] } }.map(
                        JSONValue.int))
                tests.append(test)
                count += 1
            }
            var entry: JSONValue = [
                "name": .string(shard.name), "file": .string(shard.path), "tests": .int(count),
                "started": .string(EventLog.timestamp(shard.timeline.started)),
                "ended": .string(EventLog.timestamp(shard.timeline.ended)),
            ]
            for key in ["host", "command", "exit_code", "clean"] { entry[key] = shard.report[key] }
            list.append(entry)
        }
        let started = shards.map(\.timeline.started).min()!
        let ended = shards.map(\.timeline.ended).max()!
        let commands = shards.map { $0.timeline.command }
        let exitCode = shards.compactMap(\.timeline.exitCode).first { $0 != 0 } ?? 0
        let outcomes = Dictionary(grouping: tests, by: { $0["outcome"]?.stringValue ?? "unknown" }).mapValues(\.count)
        let failing = tests.filter { ["failed", "error"].contains($0["outcome"]?.stringValue ?? "") }
        let summary: JSONValue = [
            "shards": .int(shards.count), "tests": .int(tests.count),
            "outcomes": .object(outcomes.map { .init($0.key, .int($0.value)) }), "disruptions": .int(disruptions.count),
            "failing": .int(failing.count),
            "failing_overlapped_disruption": .int(
                failing.filter { !($0["disruptions"]?.arrayValue ?? []).isEmpty }.count),
        ]
        let command =
            Set(commands.map { $0.joined(separator: "\u{0}") }).count == 1 ? commands[0] : ["(\(shards.count) shards)"]
        let merged: JSONValue = [
            "muster_version": .string(BuildInfo.version),
            "command": .array(command.map(JSONValue.string)),
            "started": .string(EventLog.timestamp(started)), "ended": .string(EventLog.timestamp(ended)),
            "exit_code": .int(Int(exitCode)),
            "clean": .bool(shards.allSatisfy { $0.report["clean"]?.boolValue ?? true }),
            "shards": .array(list), "services": .object(services), "disruptions": .array(disruptions),
            "tests": .array(tests),
            "postgres": .object(postgres), "summary": summary,
        ]
        let json = Data(merged.prettyText.utf8)
        drawn.command = command
        drawn.started = started
        drawn.ended = ended
        drawn.exitCode = exitCode
        drawn.musterVersion = BuildInfo.version
        return Result(json: json, timeline: drawn, lines: lines(drawn))
    }

    /// `3 shards, 12 tests (2 failed, 10 passed), 2 disruptions`, then the failing tests
    /// by the disruption they overlapped (each within its own shard) and those that overlapped none.
    static func lines(_ run: RunTimeline) -> [String] {
        let outcomes = Dictionary(grouping: run.tests, by: \.outcome).mapValues(\.count)
        let counts = outcomes.keys.sorted().map { "\(outcomes[$0]!) \($0)" }.joined(separator: ", ")
        var lines = [
            "\(run.shards.count) shards (\(run.shards.map(\.name).joined(separator: ", "))): \(run.tests.count) tests"
                + (counts.isEmpty ? "" : " (\(counts))") + ", \(run.disruptions.count) disruption(s)"
        ]
        let records = run.tests.map { test in
            TestRecord(
                id: (test.shard.map { "[\($0)] " } ?? "") + test.id, outcome: test.outcome,
                start: test.start.timeIntervalSince1970,
                end: test.end.timeIntervalSince1970, worker: test.worker, source: test.source ?? "unknown",
                disruptions: test.disruptions)
        }
        let disruptions = run.disruptions.map {
            Disruption(
                seq: $0.seq, service: $0.service, kind: $0.kind, start: EventLog.timestamp($0.start),
                end: $0.end.map(EventLog.timestamp), reason: $0.reason, logTail: $0.logTail)
        }
        lines += TestAttribution.summary(tests: records, disruptions: disruptions)
        return lines
    }
}
