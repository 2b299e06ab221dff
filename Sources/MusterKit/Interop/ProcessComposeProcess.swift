import Foundation
import Yams

/// One process of a process-compose file as a muster service (or engine): the
/// fields that map, and a comment for each one that does not, saying what to do.
struct ProcessComposeProcess {
    let importer: ProcessComposeImporter
    let roles: [String: ProcessComposeImporter.Role]
    let names: [String: String]
    /// process-compose passes `.env` to every process; so does `env_file: .env`.
    let dotEnv: Bool

    func service(name: String, process: String, node: Node, unexpanded: [String]) -> YAMLPair {
        var notes: [String] = []
        var pairs: [YAMLPair] = []
        if let description = ComposeValues.string(ComposeValues.value(node, "description")) {
            pairs.append(YAMLPair("description", .string(description)))
        }
        let shellNames = importer.shellVariables(node)
        if let text = importer.commandText(node), ComposeValues.value(node, "command") != nil {
            pairs.append(YAMLPair("command", command(Self.leaveToShell(text, shellNames))))
        } else if let words = ComposeValues.strings(ComposeValues.value(node, "entrypoint")), !words.isEmpty {
            pairs.append(
                YAMLPair(
                    "command", .flow(words.map { .string(importer.escape($0)) }),
                    trailing: "process-compose: entrypoint"))
        } else {
            pairs.append(
                YAMLPair(
                    "command", .string("TODO: the command that runs \(name)"),
                    trailing: "TODO: the process has no command"))
            notes.append("\(process) has no command in \(importer.source): set one, or `muster check` fails.")
        }
        if !unexpanded.isEmpty {
            notes.append(
                "templates left as written (no var of that name): \(Array(Set(unexpanded)).sorted().joined(separator: ", ")); replace them by hand."
            )
        }
        if let directory = ComposeValues.string(ComposeValues.value(node, "working_dir")) {
            let resolved = StackLoader.resolve(directory, in: importer.directory)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), isDirectory.boolValue {
                pairs.append(YAMLPair("working_dir", .string(directory)))
            } else {
                notes.append(
                    "working_dir \(directory) does not exist here: create it and add `working_dir: \(directory)`.")
            }
        }
        pairs += environment(node)
        pairs += dependsOn(node, of: process, notes: &notes)
        let probes = ProcessComposeProbes(
            shell: importer.shell, escape: { importer.escape(Self.leaveToShell($0, shellNames)) })
        var ready: YAMLNode?
        if let readiness = ComposeValues.value(node, "readiness_probe") {
            let probe = probes.probe(readiness, alive: false)
            ready = probe.node
            notes += probe.notes.map { "readiness_probe: " + $0 }
            if ComposeValues.value(node, "ready_log_line") != nil {
                notes.append("ready_log_line not carried over: muster has one ready probe, and readiness_probe is it.")
            }
        } else if let line = ComposeValues.string(ComposeValues.value(node, "ready_log_line")) {
            ready = .map([
                YAMLPair(
                    "log", .string(NSRegularExpression.escapedPattern(for: line)),
                    trailing: "process-compose: ready_log_line")
            ])
        }
        if let ready { pairs.append(YAMLPair("ready", ready)) }
        if let liveness = ComposeValues.value(node, "liveness_probe") {
            let probe = probes.probe(liveness, alive: true)
            if let alive = probe.node { pairs.append(YAMLPair("alive", alive)) }
            notes += probe.notes.map { "liveness_probe: " + $0 }
        }
        pairs += lifecycle(node, notes: &notes, engine: false)
        if isTask(process, node) {
            pairs.append(YAMLPair("task", .bool(true), trailing: "runs once; others wait for it to complete"))
        }
        if ProcessComposeImporter.flag(ComposeValues.value(node, "disabled")) {
            pairs.append(
                YAMLPair(
                    "profiles", .flow([.string("disabled")]),
                    trailing:
                        "process-compose: disabled; start it with `muster up --profile disabled` or `muster start \(name)`"
                ))
        }
        notes += otherKeys(node, handled: ProcessComposeImporter.processHandled)
        pairs[0].comments = notes
        return YAMLPair(name, .map(pairs))
    }

    func engine(name: String, process: String, node: Node, engine: CommandEngine) -> YAMLPair {
        let (port, fields) = engine.fields()
        let command = importer.commandText(node) ?? ""
        var notes = [
            "process-compose ran: \(Self.shortened(command))",
            "muster runs the \(engine.kind.rawValue) server installed on this machine, on its own data folder.",
        ]
        var pairs = [YAMLPair("engine", .string(engine.kind.rawValue))]
        if engine.implementation != .auto {
            pairs.append(YAMLPair("implementation", .string(engine.implementation.rawValue)))
        }
        if let port {
            pairs.append(YAMLPair("port", .number(port)))
        } else {
            let usual = EngineImage.defaultPort(engine.kind)
            pairs.append(
                YAMLPair(
                    "port", .string("auto"),
                    trailing:
                        "the command set no port (so \(usual)): use ${\(name).port} where it was hard-coded, or write port: \(usual)"
                ))
        }
        if engine.kind == .redis, (engine.program as NSString).lastPathComponent != "redis-server" {
            let program = (engine.program as NSString).lastPathComponent
            if engine.program.hasPrefix("/"), FileManager.default.isExecutableFile(atPath: engine.program) {
                pairs.append(YAMLPair("bin", .string(engine.program), trailing: "\(program), as the command ran it"))
            } else if let found = ProgramLocator.find(
                program, workingDir: "/", path: importer.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
            {
                pairs.append(YAMLPair("bin", .string(found), trailing: "\(program) is installed here: muster runs it"))
            } else {
                notes.append(
                    "\(program) is not installed here: muster runs redis-server (same protocol and flags); install \(program) and set bin: to its path to run it."
                )
            }
        }
        pairs += fields.pairs
        var ignored: [String] = []
        pairs += dependsOn(node, of: process, notes: &ignored)
        notes += ignored
        var lifecycleNotes: [String] = []
        pairs += lifecycle(node, notes: &lifecycleNotes, engine: true)
        notes += lifecycleNotes
        if let shutdown = ComposeValues.value(node, "shutdown"), ComposeValues.value(shutdown, "command") == nil {
            notes.append(
                "shutdown \(ProcessComposeImporter.inline(shutdown)) dropped: muster stops its engines itself, the way each server stops fastest and safely."
            )
        }
        if ProcessComposeImporter.flag(ComposeValues.value(node, "disabled")) {
            pairs.append(
                YAMLPair(
                    "profiles", .flow([.string("disabled")]),
                    trailing:
                        "process-compose: disabled; start it with `muster up --profile disabled` or `muster start \(name)`"
                ))
        }
        var dropped = fields.dropped
        for key in ["readiness_probe", "liveness_probe", "ready_log_line"] where ComposeValues.value(node, key) != nil {
            dropped.append(
                "\(key) (muster's own \(engine.kind.rawValue) check, a real protocol request, decides readiness)")
        }
        let environment = ComposeValues.environment(ComposeValues.value(node, "environment"))
        if !environment.isEmpty { dropped.append("environment \(environment.map(\.key).joined(separator: ", "))") }
        if ComposeValues.value(node, "working_dir") != nil {
            dropped.append("working_dir (muster keeps its own data folder)")
        }
        if ProcessComposeImporter.flag(ComposeValues.value(node, "is_daemon")) {
            dropped.append("is_daemon (muster runs the server in the foreground)")
        }
        if ComposeValues.value(node, "log_location") != nil { dropped.append("log_location (`muster logs \(name)`)") }
        if !dropped.isEmpty { notes.append("not carried over: " + dropped.joined(separator: "; ")) }
        notes += otherKeys(node, handled: ProcessComposeImporter.processHandled.union(["is_daemon", "log_location"]))
        pairs[0].comments = notes
        return YAMLPair(name, .map(pairs))
    }

    /// `$NAME` and `${NAME...}` written `$$`, for names the process's own environment
    /// sets: the shell expands them when it runs, not muster when it loads the file.
    static func leaveToShell(_ text: String, _ names: Set<String>) -> String {
        guard !names.isEmpty, text.contains("$") else { return text }
        var result = text
        for name in names.sorted(by: { $0.count > $1.count }) {
            let pattern = "(?<!\\$)\\$(\\{?\(NSRegularExpression.escapedPattern(for: name)))(?![A-Za-z0-9_])"
            guard let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            result = regex.stringByReplacingMatches(
                in: result, range: NSRange(result.startIndex..., in: result), withTemplate: "\\$\\$$1")
        }
        return result
    }

    static func shortened(_ command: String) -> String {
        let line = command.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return line.count > 160 ? String(line.prefix(157)) + "..." : line
    }

    /// The command under the file's shell, as process-compose runs it.
    func command(_ text: String) -> YAMLNode {
        let shell = importer.shell
        return .flow([.string(shell.command), .string(shell.argument), .string(importer.escape(text))])
    }

    func environment(_ node: Node) -> [YAMLPair] {
        var pairs: [YAMLPair] = []
        let environment = ComposeValues.environment(ComposeValues.value(node, "environment"))
        if !environment.isEmpty {
            pairs.append(
                YAMLPair(
                    "env",
                    .map(
                        environment.map { key, value in
                            YAMLPair(key, .string(value.map(importer.escape) ?? "${\(key)}"))
                        })))
        }
        var files: [String] = dotEnv ? [".env"] : []
        if let envFile = ComposeValues.value(node, "env_file") {
            files += ComposeValues.string(envFile).map { [$0] } ?? ComposeValues.strings(envFile) ?? []
        }
        if !files.isEmpty {
            pairs.append(
                YAMLPair(
                    "env_file", .flow(files.map { .string($0) }),
                    trailing: dotEnv && files.count == 1 ? "process-compose passed .env to every process" : nil))
        }
        return pairs
    }

    /// `depends_on` in muster's words; a dropped process's dependents wait for its replacement.
    func dependsOn(_ node: Node, of owner: String, notes: inout [String]) -> [YAMLPair] {
        var entries: [YAMLPair] = []
        for (target, condition) in ComposeValues.dependencies(ComposeValues.value(node, "depends_on")) {
            var process = target
            var trailing: String?
            switch roles[target] {
            case nil:
                notes.append("depends_on \(target) not carried over: \(importer.source) has no process \(target).")
                continue
            case let .dropped(_, replacement)?:
                guard let replacement else {
                    notes.append("depends_on \(target) not carried over: \(target) was dropped."); continue
                }
                process = replacement
                trailing = "instead of \(target), which was dropped"
            default: break
            }
            guard process != owner, let name = names[process], !entries.contains(where: { $0.key == name }) else {
                continue
            }
            let isEngine: Bool = {
                if case .engine? = roles[process] { return true }; return false
            }()
            let value: String
            switch condition {
            case "process_healthy": value = "ready"
            case "process_completed_successfully": value = "completed"
            case "process_completed":
                value = "completed"
                trailing =
                    trailing ?? "process-compose: process_completed (any exit code); muster's completed needs exit 0"
            case "process_log_ready":
                value = "ready"
                trailing =
                    trailing
                    ?? (isEngine
                        ? "process-compose: process_log_ready; muster's own check decides"
                        : "process-compose: process_log_ready (its ready_log_line is its ready: probe)")
            default:
                value = isEngine ? "ready" : "started"
                if isEngine { trailing = trailing ?? "process-compose: process_started; an engine is ready soon after" }
            }
            if value == "completed", isEngine {
                // muster's engine is a server: it never completes, it is ready.
                entries.append(
                    YAMLPair(
                        name, .string("ready"),
                        trailing: trailing ?? "process-compose: \(condition); muster runs it as a server"))
            } else if case .dropped? = roles[target], value == "completed" {
                entries.append(YAMLPair(name, .string("ready"), trailing: trailing))
            } else {
                entries.append(YAMLPair(name, .string(value), trailing: trailing))
            }
        }
        return entries.isEmpty ? [] : [YAMLPair("depends_on", .map(entries))]
    }

    /// A one-shot: another process waits for it with `process_completed_successfully`,
    /// its availability does not restart it always, and it has no probe (a task is
    /// ready when it completes). `process_completed` (any exit code) does not make one.
    func isTask(_ process: String, _ node: Node) -> Bool {
        let waitedFor = importer.processes.contains { _, other in
            ComposeValues.dependencies(ComposeValues.value(other, "depends_on")).contains {
                $0.service == process && $0.condition == "process_completed_successfully"
            }
        }
        let probes = ["readiness_probe", "ready_log_line", "liveness_probe"]
        guard !probes.contains(where: { ComposeValues.value(node, $0) != nil }) else { return false }
        let restart = ComposeValues.string(ComposeValues.value(ComposeValues.value(node, "availability"), "restart"))?
            .lowercased()
        return waitedFor && restart != "always"
    }

    /// `availability` and `shutdown` as muster's restart and stop settings.
    func lifecycle(_ node: Node, notes: inout [String], engine: Bool) -> [YAMLPair] {
        var pairs: [YAMLPair] = []
        let availability = ComposeValues.value(node, "availability")
        switch ComposeValues.string(ComposeValues.value(availability, "restart"))?.lowercased() {
        case "always"?: pairs.append(YAMLPair("restart", .string("always")))
        case "on_failure"?, "on-failure"?: pairs.append(YAMLPair("restart", .string("on-failure")))
        case "exit_on_failure"?:
            notes.append(
                "availability.restart exit_on_failure: muster does not stop the stack when one service fails; `muster up` fails if it fails to start, and `muster run --fail-on-restart` reports a later failure."
            )
        case "no"?, nil: break
        case let other?:
            notes.append(
                "availability.restart \(other) is not a policy this import knows: set restart: no, on-failure or always."
            )
        }
        if let max = ComposeValues.string(ComposeValues.value(availability, "max_restarts")).flatMap(Int.init), max > 0
        {
            pairs.append(YAMLPair("max_restarts", .number(max)))
        }
        if let backoff = ComposeValues.string(ComposeValues.value(availability, "backoff_seconds")) {
            notes.append("availability.backoff_seconds \(backoff): muster waits between restarts by its own backoff.")
        }
        for (key, value) in ComposeValues.pairs(availability)
        where !["restart", "max_restarts", "backoff_seconds"].contains(key) {
            let what =
                key == "exit_on_end"
                ? "to stop everything when a command ends, run it with `muster run -- COMMAND`"
                : "no muster equal"
            notes.append("availability.\(key): \(ProcessComposeImporter.inline(value)) not carried over (\(what)).")
        }
        let shutdown = ComposeValues.value(node, "shutdown")
        if engine {
            if let command = ComposeValues.string(ComposeValues.value(shutdown, "command")) {
                notes.append(
                    "shutdown (command `\(Self.shortened(command))`) dropped: muster stops its engines itself, the way each server stops fastest and safely."
                )
            }
            return pairs
        }
        if let signal = ComposeValues.string(ComposeValues.value(shutdown, "signal")) {
            if let number = Int32(signal), SignalName.table.contains(where: { $0.number == number }) {
                pairs.append(
                    YAMLPair(
                        "stop_signal", .string(SignalName.name(of: number)),
                        trailing: "process-compose: signal \(signal)"))
            } else if SignalName.parse(signal) != nil {
                pairs.append(YAMLPair("stop_signal", .string(signal)))
            } else {
                notes.append(
                    "shutdown.signal \(signal) is not a signal muster sends: pick one of \(SignalName.table.map(\.name).joined(separator: ", "))."
                )
            }
        }
        if let seconds = ComposeValues.string(ComposeValues.value(shutdown, "timeout_seconds")).flatMap(Int.init),
            seconds > 0
        {
            pairs.append(YAMLPair("stop_timeout", .string("\(seconds)s")))
        }
        if let command = ComposeValues.string(ComposeValues.value(shutdown, "command")) {
            notes.append(
                "shutdown.command `\(Self.shortened(command))` has no muster equal: muster sends stop_signal to the process group; make the program exit on it (or wrap it in a script that traps the signal and runs that command)."
            )
        }
        if ComposeValues.value(shutdown, "parent_only") != nil {
            notes.append("shutdown.parent_only: muster signals the whole process group.")
        }
        return pairs
    }

    /// A comment per key muster has no equal for, saying what to do; unknown keys too.
    func otherKeys(_ node: Node, handled: Set<String>) -> [String] {
        ComposeValues.pairs(node).compactMap { key, value in
            guard !handled.contains(key) else { return nil }
            if key == "disabled" || key == "vars" { return nil }
            if let what = ProcessComposeImporter.processNotes[key] {
                if ["is_tty", "is_foreground", "disable_ansi_colors", "is_daemon", "is_elevated"].contains(key),
                    !ProcessComposeImporter.flag(value)
                {
                    return nil
                }
                return "\(key): \(ProcessComposeImporter.inline(value)): \(what)."
            }
            return
                "\(key): \(ProcessComposeImporter.inline(value)): not a key this import knows; check what it did and carry it over by hand."
        }
    }
}
