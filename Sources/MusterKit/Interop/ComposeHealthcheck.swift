import Foundation
import Yams

/// A compose `healthcheck` as a muster `ready:` exec probe.
enum ComposeHealthcheck {
    /// Compose's defaults, used to work out how long a service may take to start.
    static let defaultInterval = Duration.seconds(30)
    static let defaultRetries = 3

    /// The probe mapping, or nil when there is no test (or `NONE`, or `disable: true`).
    ///
    /// `CMD` lists stay lists (exec'd as is), `CMD-SHELL` and plain strings stay strings
    /// (run by /bin/sh -c), as compose runs them. `interval` and `timeout` carry over;
    /// `start_period` becomes `start_timeout` = start_period + retries × interval, the
    /// moment compose would have called the service unhealthy.
    static func probe(_ node: Node?) -> YAMLNode? {
        guard let node else { return nil }
        if let disable = ComposeValues.string(ComposeValues.value(node, "disable")),
            ["true", "yes"].contains(disable.lowercased())
        {
            return nil
        }
        let test = ComposeValues.value(node, "test")
        var check: YAMLNode
        if let text = ComposeValues.string(test) {
            guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            check = .string(text)
        } else if let words = ComposeValues.strings(test), let kind = words.first {
            let rest = Array(words.dropFirst())
            switch kind {
            case "CMD" where !rest.isEmpty: check = .flow(rest.map { .string($0) })
            case "CMD-SHELL" where !rest.isEmpty: check = .string(rest.joined(separator: " "))
            default: return nil
            }
        } else {
            return nil
        }
        var pairs = [YAMLPair("exec", check)]
        let interval = ComposeValues.duration(ComposeValues.value(node, "interval"))
        if let interval { pairs.append(YAMLPair("interval", .string(interval.text))) }
        if let timeout = ComposeValues.duration(ComposeValues.value(node, "timeout")) {
            pairs.append(YAMLPair("timeout", .string(timeout.text)))
        }
        if let start = ComposeValues.duration(ComposeValues.value(node, "start_period")) {
            let retries =
                ComposeValues.string(ComposeValues.value(node, "retries")).flatMap { Int($0) } ?? defaultRetries
            let total = start.value + (interval?.value ?? defaultInterval) * max(1, retries)
            pairs.append(
                YAMLPair(
                    "start_timeout", .string(DurationParser.format(total)),
                    trailing: "compose: start_period \(start.text) + \(retries) retries × interval"))
        }
        return .map(pairs)
    }
}
