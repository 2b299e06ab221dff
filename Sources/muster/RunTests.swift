import Foundation
import MusterKit

/// `muster run`'s side of test attribution: the tests file CMD gets, reading it
/// and the --tests reports after CMD, the report, and the lines that say which
/// failing tests a disruption overlapped.
extension Run {
    /// At most this many per-test annotations.
    static let testAnnotations = 20

    /// `.muster/PROJECT/runs/<UTC stamp>-<pid>/tests.jsonl`, created empty.
    static func freshTestsFile(_ paths: ProjectPaths) throws -> String {
        var stamp = EventLog.timestamp(Date()).replacingOccurrences(of: ":", with: "")
        stamp = String(stamp.prefix { $0 != "." }) + "Z"
        var folder = paths.stateDir + "/runs/\(stamp)-\(getpid())"
        if !folder.hasPrefix("/") { folder = FileManager.default.currentDirectoryPath + "/" + folder }
        let file = URL(fileURLWithPath: folder + "/tests.jsonl").standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw MusterError(
                .environment, "cannot create \(folder) for the run's tests file; check that .muster is writable")
        }
        guard FileManager.default.createFile(atPath: file, contents: Data()) else {
            throw MusterError(
                .environment, "cannot create the run's tests file \(file); check that .muster is writable")
        }
        return file
    }

    /// The tests of MUSTER_TESTS_FILE and of every --tests report; a report that
    /// cannot be read is a problem to print after CMD, never a reason to lose the rest.
    static func readTests(file: String, reports: [String], err: Console) -> (
        records: [TestRecord], problems: [MusterError]
    ) {
        let own = TestReportReader.readTestsFile(file)
        if own.skipped > 0 {
            Output.note("\(own.skipped) line(s) of \(file) are not whole test records and were skipped")
        }
        var records = own.tests
        var problems: [MusterError] = []
        for report in reports {
            do {
                records += try TestReportReader.read(report)
            } catch let error as MusterError {
                problems.append(error)
            } catch {
                problems.append(MusterError(.usage, "--tests \(report): \(error)"))
            }
        }
        return (records, problems)
    }

    /// The report of the window. Disruptions come from the running supervisor's
    /// events (one that began before CMD and was still open counts), not from
    /// earlier lives of the project, whose open ends would never close.
    static func report(
        command: [String], started: Date, ended: Date, exitCode: Int32, paths: ProjectPaths, status: StatusReport,
        firstSeq: Int, tests: [TestRecord], postgres: [String: PostgresPressure]
    ) -> RunReport {
        let all = ServiceEvent.read(paths.eventsFile)
        let since = RFC3339.seconds(status.started) ?? 0
        let lifetime = all.filter { (RFC3339.seconds($0.time) ?? 0) >= since }
        let disruptions = Disruption.overlapping(lifetime, from: started, to: ended)
        return RunReport(
            command: command, started: started, ended: ended, exitCode: exitCode, services: status.services.map(\.name),
            events: all.filter { $0.seq >= firstSeq }, disruptions: disruptions, tests: tests,
            postgres: postgres.isEmpty ? nil : postgres)
    }

    /// The lines after CMD: the services that were not continuously up, the failing
    /// tests by what they overlapped, Postgres above 80 %, and with CI=true the
    /// same as GitHub Actions annotations.
    func summarize(_ result: RunReport, seconds: Double, err: Console) {
        let prefix = err.paint("muster │ ", .bold)
        let duration = String(format: "%.1fs", seconds)
        if result.clean {
            err.line(
                prefix
                    + err.paint(
                        "no service restarted or became unavailable while the command ran (\(duration))", .green))
        } else {
            err.line(
                prefix
                    + err.paint(
                        "\(result.findings.count) service(s) were not continuously up while the command ran (\(duration)):",
                        .boldRed))
            for finding in result.findings { err.line(prefix + "  \(finding.service): \(finding.text)") }
        }
        let tests = result.tests ?? []
        let lines = TestAttribution.summary(tests: tests, disruptions: result.disruptions ?? [])
        if !tests.isEmpty {
            let failing = tests.filter(\.isFailure).count
            err.line(prefix + "\(tests.count) test(s) recorded, \(failing) failing" + (lines.isEmpty ? "" : ":"))
        }
        for line in lines { err.line(prefix + "  " + line) }
        let pressed = (result.postgres ?? [:]).filter { $0.value.peakShare > PostgresPressure.warnAbove }
        for (service, pressure) in pressed.sorted(by: { $0.key < $1.key }) {
            err.line(prefix + err.paint("  " + pressure.line(service: service), .yellow))
        }

        guard ProcessInfo.processInfo.environment["CI"] == "true" else { return }
        let level = failOnRestart ? "error" : "warning"
        for finding in result.findings {
            var text = finding.service + " " + finding.text
            let hit = tests.filter { $0.isFailure && (result.services[finding.service]?.tests ?? []).contains($0.id) }
                .map(\.id)
            if !hit.isEmpty { text += "; failing tests it overlapped: " + TestAttribution.list(hit, show: 20) }
            print(
                "::\(level) title=muster: \(finding.service) was not continuously up::\(Self.annotationEscaped(text))")
        }
        // One annotation per hit test, up to a point: CI pages show only the first few.
        let hitTests = tests.filter { $0.isFailure && !$0.disruptions.isEmpty }
        if hitTests.count > Self.testAnnotations {
            print(
                "::\(level) title=muster: failing tests overlapped a disruption::\(hitTests.count) failing tests overlapped a disruption; the first \(Self.testAnnotations) follow, the rest are in the run report"
            )
        }
        for test in hitTests.prefix(Self.testAnnotations) {
            let what = (result.disruptions ?? []).filter { test.disruptions.contains($0.seq) }
                .map { "\($0.service) \($0.kind.words) at \($0.start)" + ($0.reason.map { " (\($0))" } ?? "") }
            let text = "\(test.id) failed while \(what.joined(separator: "; "))"
            print("::\(level) title=muster: a failing test overlapped a disruption::\(Self.annotationEscaped(text))")
        }
        for (service, pressure) in pressed.sorted(by: { $0.key < $1.key }) {
            print(
                "::warning title=muster: \(service) connections near max_connections::\(Self.annotationEscaped(pressure.line(service: service)))"
            )
        }
    }
}
