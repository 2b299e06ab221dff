import Foundation
import Yams

/// A process-compose `readiness_probe` or `liveness_probe` (Kubernetes-shaped:
/// `exec` or `http_get`, with periods, timeouts and thresholds in seconds) as a
/// muster `ready:` or `alive:` probe, with a note for each part muster has no equal for.
struct ProcessComposeProbes {
    let shell: (command: String, argument: String)
    let escape: (String) -> String

    /// process-compose's defaults (and Kubernetes').
    static let defaultPeriod = 10
    static let defaultFailures = 3

    func probe(_ node: Node, alive: Bool) -> (node: YAMLNode?, notes: [String]) {
        var notes: [String] = []
        var pairs: [YAMLPair] = []
        if let exec = ComposeValues.value(node, "exec") {
            guard var command = ComposeValues.string(ComposeValues.value(exec, "command")), !command.isEmpty else {
                return (nil, ["exec has no command: not carried over; write the probe by hand."])
            }
            if let directory = ComposeValues.string(ComposeValues.value(exec, "working_dir")) {
                command = "cd \(YAMLText.shellQuoted(directory)) && " + command
            }
            pairs.append(
                YAMLPair("exec", .flow([.string(shell.command), .string(shell.argument), .string(escape(command))])))
        } else if let http = ComposeValues.value(node, "http_get") {
            let scheme =
                ComposeValues.string(ComposeValues.value(http, "scheme")).flatMap { $0.isEmpty ? nil : $0.lowercased() }
                ?? "http"
            let host =
                ComposeValues.string(ComposeValues.value(http, "host")).flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
            var path = ComposeValues.string(ComposeValues.value(http, "path")).flatMap { $0.isEmpty ? nil : $0 } ?? "/"
            if !path.hasPrefix("/") { path = "/" + path }
            let port =
                ComposeValues.string(ComposeValues.value(http, "port")).flatMap { $0.isEmpty ? nil : ":" + $0 } ?? ""
            pairs.append(YAMLPair("http", .string(escape("\(scheme)://\(host)\(port)\(path)"))))
            if let status = ComposeValues.string(ComposeValues.value(http, "status_code")) {
                notes.append("status_code \(status): muster takes any 2xx or 3xx answer as success.")
            }
            if ComposeValues.value(http, "headers") != nil {
                notes.append(
                    "headers not carried over: muster's http probe sends none; use an exec probe with curl -H if the server needs them."
                )
            }
        } else {
            let kinds = ComposeValues.pairs(node).map(\.key).filter { !Self.timing.contains($0) }
            return (
                nil,
                [
                    "\(kinds.isEmpty ? "no check" : kinds.joined(separator: ", ")) is not a check muster knows (exec, http_get): write the probe by hand."
                ]
            )
        }
        let period = seconds(node, "period_seconds")
        let delay = seconds(node, "initial_delay_seconds") ?? 0
        let failures = seconds(node, "failure_threshold")
        if let period { pairs.append(YAMLPair("interval", .string("\(period)s"))) }
        if let timeout = seconds(node, "timeout_seconds") { pairs.append(YAMLPair("timeout", .string("\(timeout)s"))) }
        if alive {
            if let failures { pairs.append(YAMLPair("failures", .number(failures))) }
            if delay > 0 {
                notes.append("initial_delay_seconds \(delay): muster starts liveness checks once the service is ready.")
            }
        } else {
            // process-compose keeps probing; muster gives up at start_timeout (60s by default).
            let total = delay + (failures ?? Self.defaultFailures) * (period ?? Self.defaultPeriod)
            if total > 60 {
                pairs.append(
                    YAMLPair(
                        "start_timeout", .string("\(total)s"),
                        trailing: "initial_delay_seconds + failure_threshold × period_seconds"))
            }
        }
        if let success = seconds(node, "success_threshold"), success > 1 {
            notes.append("success_threshold \(success): muster counts the first success.")
        }
        return (.map(pairs), notes)
    }

    static let timing: Set<String> = [
        "initial_delay_seconds", "period_seconds", "timeout_seconds", "success_threshold", "failure_threshold",
    ]

    func seconds(_ node: Node, _ key: String) -> Int? {
        ComposeValues.string(ComposeValues.value(node, key)).flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }
}

extension YAMLText {
    /// A word for /bin/sh, single-quoted when it holds anything but plain characters.
    static func shellQuoted(_ word: String) -> String {
        let plain =
            !word.isEmpty && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:=@%+,".contains($0)) }
        return plain ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
