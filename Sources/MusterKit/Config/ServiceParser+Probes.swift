import Foundation
import Yams

/// A service's `ready:` and `alive:` probes: exactly one check (http, tcp, exec, log,
/// notify, postgres, redis or kafka) and its timing.
extension ServiceParser {
    func probe(_ node: Node, what: String, defaults: (ProbeSpec.Kind) -> ProbeSpec) throws -> ProbeSpec {
        let timing = Self.probeTimingKeys
        let pairs = try reader.mapping(node, what: what, allowed: ProbeSpec.kindNames + timing)
        let kinds = pairs.filter { ProbeSpec.kindNames.contains($0.key) }
        guard kinds.count == 1, let kindPair = kinds.first else {
            if kinds.isEmpty {
                throw reader.fail(
                    "\(what) needs exactly one check: http, tcp, exec, log, notify, postgres, redis or kafka", node)
            }
            throw reader.fail(
                "\(what) has \(kinds.count) checks (\(kinds.map(\.key).joined(separator: ", "))); keep exactly one",
                kinds[1].keyNode)
        }
        var spec = defaults(try probeKind(kindPair.key, kindPair.value, what: "\(what).\(kindPair.key)"))
        spec.location = reader.location(kindPair.keyNode)
        for pair in pairs where timing.contains(pair.key) {
            let field = "\(what).\(pair.key)"
            switch pair.key {
            case "interval":
                spec.interval = try reader.duration(pair.value, what: field)
                guard spec.interval >= .milliseconds(1) else {
                    throw reader.fail("\(field) must be at least 1ms", pair.value)
                }
            case "timeout":
                spec.timeout = try reader.duration(pair.value, what: field)
                guard spec.timeout >= .milliseconds(1) else {
                    throw reader.fail("\(field) must be at least 1ms", pair.value)
                }
            case "start_timeout": spec.startTimeout = try reader.duration(pair.value, what: field)
            case "failures": spec.failures = try reader.int(pair.value, what: field, range: 1...1000)
            case "identity":
                guard case .http = spec.kind else {
                    throw reader.fail(
                        "\(field) only applies to http probes (a JSON field of the response)", pair.keyNode)
                }
                spec.identityField = try reader.string(pair.value, what: field)
            default: break
            }
        }
        return spec
    }

    func probeKind(_ key: String, _ node: Node, what: String) throws -> ProbeSpec.Kind {
        switch key {
        case "http":
            let url = try reader.template(node, what: what)
            let text = url.description
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw reader.fail("\(what) must be an http:// or https:// URL, not \"\(text)\"", node)
            }
            return .http(url)
        case "tcp":
            let target = try reader.template(node, what: what)
            let text = target.description
            if target.references.isEmpty {
                guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                    (1...65535).contains(port), colon != text.startIndex
                else {
                    throw reader.fail("\(what) must be HOST:PORT, e.g. 127.0.0.1:8000, not \"\(text)\"", node)
                }
            }
            return .tcp(target)
        case "exec": return .exec(try command(node, what: what))
        case "log":
            let pattern = try reader.string(node, what: what)
            guard !pattern.isEmpty else { throw reader.fail("\(what) is an empty pattern", node) }
            do { _ = try NSRegularExpression(pattern: pattern) } catch {
                throw reader.fail("\(what): \"\(pattern)\" is not a valid regular expression", node)
            }
            return .log(pattern)
        case "notify":
            guard try reader.bool(node, what: what) else {
                throw reader.fail("\(what) can only be true; remove the probe to turn it off", node)
            }
            return .notify
        case "postgres", "redis":
            let empty: Bool
            switch node {
            case let .mapping(mapping): empty = mapping.count == 0
            case let .scalar(scalar): empty = YAMLReader.isNull(scalar)
            default: empty = false
            }
            guard empty else { throw reader.fail("\(what) takes no options; write \(key): {}", node) }
            return key == "postgres" ? .postgres : .redis
        default:
            if case .scalar(let scalar) = node, scalar.string.isEmpty { return .kafka(group: nil, topic: nil) }
            let pairs = try reader.mapping(node, what: what, allowed: Self.kafkaProbeKeys)
            var group: String?, topic: String?
            for pair in pairs {
                if pair.key == "group" {
                    group = try reader.string(pair.value, what: "\(what).group")
                } else {
                    topic = try reader.string(pair.value, what: "\(what).topic")
                }
            }
            if topic != nil && group == nil {
                throw reader.fail("\(what).topic needs a group: the probe waits for the group's assignment", node)
            }
            return .kafka(group: group, topic: topic)
        }
    }
}
