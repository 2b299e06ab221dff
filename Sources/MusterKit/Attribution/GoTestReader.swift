import Foundation

/// Reads `go test -json` output (test2json): one JSON object per line. A test
/// runs from its `run` action to its `pass`, `fail` or `skip`; id
/// `Package/Test`, worker the package. `output` lines, most of the stream, are
/// passed over unread; lines that are not JSON objects (build output mixed into
/// the stream) are ignored.
enum GoTestReader {
    private struct Event {
        var time: String?
        var action: String?
        var package: String?
        var test: String?
    }

    private struct Running {
        var start: Double
        var order: Int
        var package: String
    }

    static func read(_ data: Data, file: String) throws -> [TestRecord] {
        var running: [String: Running] = [:]
        var lastTime: [String: Double] = [:]
        var finished: [(order: Int, test: TestRecord)] = []
        var order = 0
        let output = Array("\"Action\":\"output\"".utf8)
        try TestReportReader.forEachLine(data) { line, number in
            // Output lines are most of the stream and never matter here.
            if TestReportReader.contains(line, output) { return true }
            guard line.first == UInt8(ascii: "{") else { return true }
            guard let event = try? Self.event(line) else {
                throw TestReportReader.problem(file, "line \(number) is not valid JSON; expected go test -json output")
            }
            guard let action = event.action else {
                throw TestReportReader.problem(file, "line \(number) has no \"Action\"; expected go test -json output")
            }
            let package = event.package ?? ""
            guard let timeText = event.time else { return true }
            guard let time = RFC3339.seconds(timeText) else {
                throw TestReportReader.problem(file, "line \(number): \"Time\" \(timeText) is not an RFC 3339 time")
            }
            lastTime[package] = time
            guard let test = event.test else { return true }
            let id = package.isEmpty ? test : package + "/" + test
            switch action {
            case "run":
                running[id] = Running(start: time, order: order, package: package)
                order += 1
            case "pass", "fail", "skip":
                guard let started = running.removeValue(forKey: id) else { return true }
                let outcome = action == "pass" ? "passed" : action == "fail" ? "failed" : "skipped"
                finished.append(
                    (
                        started.order,
                        TestRecord(
                            id: id, outcome: outcome, start: started.start, end: time,
                            worker: package.isEmpty ? "main" : package, source: "go")
                    ))
            default:
                break
            }
            return true
        }
        // Started and never finished (a panic or a timeout ended the binary): failed, until its package's last event.
        for (id, started) in running {
            let package = started.package
            let end = lastTime[package] ?? lastTime.values.max() ?? started.start
            finished.append(
                (
                    started.order,
                    TestRecord(
                        id: id, outcome: "failed", start: started.start, end: end,
                        worker: package.isEmpty ? "main" : package, source: "go")
                ))
        }
        guard !finished.isEmpty || order > 0 || !lastTime.isEmpty else {
            throw TestReportReader.problem(file, "has no go test -json events")
        }
        return finished.sorted { $0.order < $1.order }.map(\.test)
    }

    /// One line's object: its string members Time, Action, Package and Test (null or absent: nil).
    private static func event(_ line: UnsafeRawBufferPointer) throws -> Event {
        var cursor = JSONCursor(line)
        var event = Event()
        var members = try cursor.beginObject()
        while let key = try cursor.nextKey(&members) {
            if try cursor.null() { continue }
            switch key {
            case "Time": event.time = try cursor.string()
            case "Action": event.action = try cursor.string()
            case "Package": event.package = try cursor.string()
            case "Test": event.test = try cursor.string()
            default: try cursor.skip()
            }
        }
        try cursor.end()
        return event
    }
}
