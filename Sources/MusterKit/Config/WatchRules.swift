import Foundation
import Yams

/// What a change to a watched file does to its service.
public enum WatchAction: Hashable, Sendable {
    /// Stop the service (with its running dependents) and start it again.
    case restart
    /// Run the task again, then restart what waits on it with `completed`.
    case rerun
    /// Run a build step in the service's working directory; restart only when it exits 0.
    case exec(CommandSpec)

    public var name: String {
        switch self {
        case .restart: return "restart"
        case .rerun: return "rerun"
        case .exec: return "exec"
        }
    }
}

/// One `watch:` rule of a service: which files, which to leave out, and what a change does.
public struct WatchRule: Hashable, Sendable {
    /// As written, relative to the stack file's folder.
    public var path: String
    /// Absolute: a file, a folder or a glob.
    public var absolutePath: String
    public var ignore: [String] = []
    public var action: WatchAction = .restart
    public var location: SourceLocation?

    public init(
        path: String, absolutePath: String, ignore: [String] = [], action: WatchAction = .restart,
        location: SourceLocation? = nil
    ) {
        self.path = path
        self.absolutePath = absolutePath
        self.ignore = ignore
        self.action = action
        self.location = location
    }

    /// Whether the path holds glob characters (`*`, `?`, `[`).
    public var isGlob: Bool { GlobPattern.hasMagic(path) }
}

/// The top-level `watch:` block: settings of the file watcher for the whole stack.
public struct WatchSettings: Hashable, Sendable {
    /// How long the tree must stay quiet before a batch of changes acts.
    public var debounce: Duration = .milliseconds(100)
    public init() {}
    public static let keys = ["debounce"]
}

extension ServiceParser {
    static let watchRuleKeys = ["path", "ignore", "action", "exec"]

    /// `watch:` a list of rules: each a path (`- app/api.py`) or a mapping
    /// `{ path, ignore, action: restart|rerun|exec, exec: COMMAND }`.
    func watchRules(_ node: Node, what: String, warnings: inout [String]) throws -> [WatchRule] {
        let items = try reader.list(node, what: what)
        return try items.enumerated().map { index, item in
            let field = "\(what)[\(index)]"
            if case .scalar = item { return try watchRule(pathNode: item, pairs: [], what: field, warnings: &warnings) }
            let pairs = try reader.mapping(item, what: field, allowed: Self.watchRuleKeys)
            guard let path = pairs.first(where: { $0.key == "path" }) else {
                throw reader.fail(
                    "\(field) needs path: a file, folder or glob relative to the stack file, as in - path: app/", item)
            }
            return try watchRule(pathNode: path.value, pairs: pairs, what: field, warnings: &warnings)
        }
    }

    private func watchRule(
        pathNode: Node, pairs: [(key: String, keyNode: Node, value: Node)], what: String,
        warnings: inout [String]
    ) throws -> WatchRule {
        let written = try reader.string(pathNode, what: "\(what).path")
        guard !written.isEmpty else {
            throw reader.fail("\(what).path is empty; give a file, folder or glob", pathNode)
        }
        let absolute = StackLoader.resolve(written, in: directory)
        let project = StackLoader.resolve(".", in: directory)
        guard absolute == project || absolute.hasPrefix(project == "/" ? "/" : project + "/") else {
            throw reader.fail(
                "\(what).path \(written) is outside the project folder (the stack file's folder); watch files of the project only",
                pathNode)
        }
        var rule = WatchRule(path: written, absolutePath: absolute, location: reader.location(pathNode))
        var execPair: (key: String, keyNode: Node, value: Node)?
        var actionNode: Node?
        for pair in pairs {
            switch pair.key {
            case "ignore": rule.ignore = try reader.stringList(pair.value, what: "\(what).ignore").map(\.0)
            case "exec": execPair = pair
            case "action": actionNode = pair.value
            default: break
            }
        }
        let actionText =
            try actionNode.map { try reader.string($0, what: "\(what).action") }
            ?? (execPair == nil ? "restart" : "exec")
        switch actionText {
        case "restart", "sync+restart", "rebuild":
            if let execPair {
                throw reader.fail(
                    "\(what).exec only goes with action: exec; remove action: \(actionText) or exec:", execPair.keyNode)
            }
            rule.action = .restart
        case "rerun":
            if let execPair {
                throw reader.fail(
                    "\(what).exec only goes with action: exec; remove action: rerun or exec:", execPair.keyNode)
            }
            rule.action = .rerun
        case "exec":
            guard let execPair else {
                throw reader.fail(
                    "\(what).action exec needs exec: the build command to run before the restart, as in exec: go build ./cmd/api",
                    actionNode ?? pathNode)
            }
            if case let .scalar(scalar) = execPair.value,
                scalar.string.trimmingCharacters(in: .whitespaces).isEmpty || YAMLReader.isNull(scalar)
            {
                throw reader.fail(
                    "\(what).exec is empty; give the build command to run before the restart, as in exec: go build ./cmd/api",
                    execPair.value)
            }
            rule.action = .exec(try command(execPair.value, what: "\(what).exec"))
        default:
            let node = actionNode ?? pathNode
            throw reader.fail(
                "\(what).action must be restart, rerun or exec, not \"\(actionText)\""
                    + Suggestion.hint(for: actionText, in: ["restart", "rerun", "exec"]), node)
        }
        if GlobMatcher.matchesNothing(rule, projectDirectory: project), let location = rule.location {
            warnings.append("\(location): \(what).path \(written) matches no file yet; it is watched all the same")
        }
        return rule
    }
}

extension StackValidator {
    /// `rerun` runs a task again: on a service that is not a task it would mean nothing.
    func checkWatchRules() throws {
        for service in stack.services {
            for rule in service.watch where rule.action == .rerun && !stack.isTask(service) {
                throw MusterError.invalid(
                    "service \(service.name).watch: action rerun only applies to a task (task: true); use action: restart for a service that keeps running",
                    at: rule.location)
            }
            if service.engine != nil, let rule = service.watch.first {
                throw MusterError.invalid(
                    "service \(service.name).watch: an engine service runs a server muster installs, not your files; watch the app services that use it",
                    at: rule.location)
            }
        }
    }
}
