import Foundation
import Yams

/// Compose's `develop.watch` and muster's `watch:` rules, both ways.
///
/// Import: `restart` and `sync+restart` become `restart`; `rebuild` becomes `restart`
/// with a note (compose rebuilt the image; a native build step is `exec:`); `sync` and
/// `sync+exec` copy files into a container, which a native process reading the checkout
/// does not need, so they are left out with a note. `x-muster-action` and `x-muster-exec`,
/// which muster's export writes, come back as they were.
/// Export: `restart` as `restart`, `rerun` as `restart` plus `x-muster-action: rerun`,
/// `exec` as `rebuild` plus `x-muster-exec: COMMAND`.
enum ComposeWatch {
    static func importRules(_ service: Node) -> (rules: YAMLPair?, notes: [String]) {
        guard case let .sequence(entries)? = ComposeValues.value(ComposeValues.value(service, "develop"), "watch")
        else { return (nil, []) }
        var items: [YAMLNode] = []
        var notes: [String] = []
        for entry in entries {
            guard var path = ComposeValues.string(ComposeValues.value(entry, "path")) else { continue }
            if path.hasPrefix("./") { path.removeFirst(2) }
            if path.isEmpty { path = "." }
            let action = ComposeValues.string(ComposeValues.value(entry, "action")) ?? "restart"
            var pairs = [YAMLPair("path", .string(path))]
            if let ignore = ComposeValues.strings(ComposeValues.value(entry, "ignore")), !ignore.isEmpty {
                pairs.append(YAMLPair("ignore", .flow(ignore.map { .string($0) })))
            }
            if let exec = ComposeValues.string(ComposeValues.value(entry, "x-muster-exec")) {
                pairs.append(YAMLPair("exec", .string(exec)))
            } else if ComposeValues.string(ComposeValues.value(entry, "x-muster-action")) == "rerun" {
                pairs.append(YAMLPair("action", .string("rerun")))
            } else {
                switch action {
                case "restart", "sync+restart": pairs.append(YAMLPair("action", .string("restart")))
                case "rebuild":
                    pairs.append(
                        YAMLPair(
                            "action", .string("restart"),
                            trailing: "compose rebuilt the image; for a build step write exec: COMMAND instead"))
                default:
                    notes.append(
                        "Left out of develop.watch: \(action) of \(path) (muster runs from your checkout: nothing to copy)."
                    )
                    continue
                }
            }
            items.append(.map(pairs))
        }
        return (items.isEmpty ? nil : YAMLPair("watch", .list(items)), notes)
    }

    static func export(_ service: ServiceSpec, projectDirectory: String) -> YAMLPair? {
        guard !service.watch.isEmpty else { return nil }
        let entries: [YAMLNode] = service.watch.map { rule in
            let relative = GlobMatcher.relativePath(rule.absolutePath, to: projectDirectory) ?? rule.path
            var pairs = [YAMLPair("path", .string("./" + relative))]
            switch rule.action {
            case .restart: pairs.append(YAMLPair("action", .string("restart")))
            case .rerun:
                pairs.append(YAMLPair("action", .string("restart")))
                pairs.append(YAMLPair("x-muster-action", .string("rerun")))
            case let .exec(command):
                pairs.append(YAMLPair("action", .string("rebuild")))
                pairs.append(YAMLPair("x-muster-exec", ComposeExporter.literal(command.display)))
            }
            if !rule.ignore.isEmpty { pairs.append(YAMLPair("ignore", .flow(rule.ignore.map { .string($0) }))) }
            return .map(pairs)
        }
        return YAMLPair(
            "develop", .map([YAMLPair("watch", .list(entries))]),
            comments: ["muster's watch: rules (docker compose watch, or up --watch)"])
    }
}
