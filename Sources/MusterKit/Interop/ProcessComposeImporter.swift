import Foundation
import Yams

/// Turns a process-compose.yaml into a muster stack. Processes already run natively,
/// so each one becomes a service that runs as written (under the file's shell, bash -c
/// by default, as process-compose runs it); processes whose command runs Postgres,
/// Redis or a Kafka broker become engines that muster configures and checks itself.
/// Whatever muster has no equal for is kept as a comment that says what to do, so
/// nothing in the input is dropped without a word.
struct ProcessComposeImporter {
    let root: Node
    let source: String
    /// The input's folder: `.env` and working folders are looked up there.
    let directory: String
    /// The environment import runs in (for unset-variable warnings).
    let environment: [String: String]

    /// process-compose's format versions this import was written against.
    static let knownVersions: Set<String> = ["0.5"]

    /// Top-level keys with no muster equal, and what to do instead.
    static let topLevelNotes: [String: String] = [
        "log_location": "muster keeps each service's log itself: `muster logs NAME`",
        "log_level": "muster's own log: add -v for its lines",
        "log_length": "muster keeps whole logs: `muster logs NAME`",
        "log_configuration": "muster writes logs as the services print them",
        "log_format": "muster writes logs as the services print them",
        "is_strict": "`muster check` always rejects unknown keys",
        "is_tui_disabled": "muster's live view shows only on a terminal; `muster up -d` runs without it",
        "extends": "muster reads one stack file: import the extended file too and copy its services here",
        "env_cmds": "run those commands yourself and put their values in env: or .env",
        "ordered_shutdown": "muster always stops dependents before what they depend on",
        "is_dotenv_disabled": "read above: .env is not passed to the services",
        "disable_env_expansion": "read above: `$` is written `$$` so muster leaves it to the shell",
    ]
    static let topLevelHandled: Set<String> = ["version", "processes", "environment", "shell", "vars"]

    /// Process keys the conversion maps.
    static let processHandled: Set<String> = [
        "command", "entrypoint", "description", "working_dir", "environment", "env_file", "depends_on",
        "readiness_probe", "liveness_probe", "availability", "shutdown", "ready_log_line", "vars", "disabled",
    ]

    /// Process keys with no muster equal, and what to do instead.
    static let processNotes: [String: String] = [
        "namespace":
            "muster has no namespaces; to start a group on demand, give its services the same profiles: [NAME]",
        "replicas": "muster runs one instance; copy the service (each copy with its own port) to run more",
        "is_daemon":
            "the command forks into the background, but muster supervises a foreground process: run the program in the foreground (drop -d, --daemon or `start`)",
        "log_location": "muster keeps the service's log itself: `muster logs NAME`",
        "log_configuration": "muster writes the log as the service prints it",
        "is_tty": "muster gives services no terminal; most programs print the same without one",
        "is_foreground": "run it yourself in a terminal beside `muster up -d`, with `muster env` for its variables",
        "disable_ansi_colors": "muster keeps logs as printed; set NO_COLOR=1 in env: if the program honours it",
        "is_elevated": "muster does not run services as root; run the stack with the rights the program needs",
        "launch_timeout_seconds": "set ready: start_timeout instead",
    ]

    var processes: [(key: String, value: Node)] { ComposeValues.pairs(ComposeValues.value(root, "processes")) }

    /// What a process becomes.
    enum Role {
        case service
        case engine(CommandEngine)
        /// Not carried over; dependents wait for `replacement` instead, when there is one.
        case dropped(reason: String, replacement: String?)
    }

    /// The file's `shell:` (shell_command, shell_argument), bash -c by default.
    var shell: (command: String, argument: String) {
        let node = ComposeValues.value(root, "shell")
        return (
            ComposeValues.string(ComposeValues.value(node, "shell_command")) ?? "bash",
            ComposeValues.string(ComposeValues.value(node, "shell_argument")) ?? "-c"
        )
    }

    var expandsEnvironment: Bool { !Self.flag(ComposeValues.value(root, "disable_env_expansion")) }

    static func flag(_ node: Node?) -> Bool {
        ["true", "yes", "on"].contains(ComposeValues.string(node)?.lowercased() ?? "")
    }

    /// Each process with its `{{.NAME}}` templates expanded from its own and the file's vars.
    func expandedProcesses() -> [(name: String, node: Node, unexpanded: [String])] {
        let global = ProcessComposeTemplates.vars(ComposeValues.value(root, "vars"))
        return processes.map { name, node in
            let own = ProcessComposeTemplates.vars(ComposeValues.value(node, "vars"))
            var unexpanded: [String] = []
            let vars = global.merging(own) { _, mine in mine }.merging(["PC_REPLICA_NUM": "0"]) { mine, _ in mine }
            let expanded = ProcessComposeTemplates.expand(node, vars: vars, unexpanded: &unexpanded)
            return (name, expanded, unexpanded)
        }
    }

    /// Variables the process's environment (or the file's global one) sets and the
    /// machine's does not: in commands they are the shell's to expand.
    func shellVariables(_ node: Node) -> Set<String> {
        let own = ComposeValues.environment(ComposeValues.value(node, "environment")).map(\.key)
        let global = ComposeValues.environment(ComposeValues.value(root, "environment")).map(\.key)
        return Set(own + global).subtracting(environment.keys)
    }

    func commandText(_ node: Node) -> String? {
        if let text = ComposeValues.string(ComposeValues.value(node, "command")),
            !text.trimmingCharacters(in: .whitespaces).isEmpty
        {
            return text
        }
        return ComposeValues.strings(ComposeValues.value(node, "entrypoint")).map { $0.joined(separator: " ") }
    }

    func roles(_ expanded: [(name: String, node: Node, unexpanded: [String])]) -> [String: Role] {
        var roles: [String: Role] = [:]
        for (name, node, _) in expanded {
            if let command = commandText(node), let engine = CommandEngine.recognize(command) {
                roles[name] = .engine(engine)
            } else {
                roles[name] = .service
            }
        }
        // `initdb` alone prepares Postgres' data folder, which the engine does itself.
        let postgres = expanded.filter {
            if case let .engine(engine)? = roles[$0.name] { return engine.kind == .postgres }; return false
        }
        for (name, node, _) in expanded {
            guard let command = commandText(node), CommandEngine.isPostgresSetup(command), let first = postgres.first
            else { continue }
            let dependent =
                postgres.first {
                    ComposeValues.dependencies(ComposeValues.value($0.node, "depends_on")).contains {
                        $0.service == name
                    }
                } ?? first
            roles[name] = .dropped(
                reason: "it runs initdb, which muster's postgres engine does itself on first start",
                replacement: dependent.name)
        }
        return roles
    }

    func convert() -> ImportedStack {
        let expanded = expandedProcesses()
        let roles = roles(expanded)
        let names = Dictionary(
            expanded.map { ($0.name, ComposeImporter.musterName($0.name)) }, uniquingKeysWith: { a, _ in a })
        let dotEnv = VariableCheck.dotEnv(in: directory)
        let dotenvDisabled = Self.flag(ComposeValues.value(root, "is_dotenv_disabled"))
        let hasDotEnv = FileManager.default.fileExists(atPath: directory + "/.env")

        var lines = [
            "# Imported by `muster import` from \(source) (process-compose).",
            "# Each process runs its command under \(shell.command) \(shell.argument), as process-compose ran it. Processes that",
            "# run Postgres, Redis or a Kafka broker became engines: muster configures, starts and checks them;",
            "# their outputs (${db.url}...: see `muster env`) can replace hand-written URLs.",
            "# Check it with `muster check`, start it with `muster up`.",
        ]
        if let version = ComposeValues.string(ComposeValues.value(root, "version")),
            !Self.knownVersions.contains(version)
        {
            lines.append(
                "# version \"\(version)\" is not one this import knows (it knows \(Self.knownVersions.sorted().joined(separator: ", "))): keys it"
            )
            lines.append("# does not know are kept as comments below; compare with the original.")
        }
        if !expandsEnvironment {
            lines.append("# disable_env_expansion: every `$` is written `$$`, so muster leaves it to the shell.")
        }
        for (key, value) in ComposeValues.pairs(root) where !Self.topLevelHandled.contains(key) {
            let what = Self.topLevelNotes[key] ?? "a key this import does not know; it has no muster equal here"
            lines.append("# Not carried over: \(key): \(Self.inline(value)) (\(what)).")
        }
        var uses: [VariableCheck.Use] = []
        if expandsEnvironment {
            uses = VariableCheck.unset(
                in: ComposeValues.value(root, "environment"), place: "environment",
                known: environment.merging(dotEnv) { a, _ in a })
            for (name, node, _) in expanded {
                var known = environment.merging(dotEnv) { a, _ in a }
                for variable in shellVariables(node) where known[variable] == nil { known[variable] = "" }
                uses += VariableCheck.unset(in: node, place: "\(name): ", known: known)
            }
        }
        let warnings = VariableCheck.warnings(uses)
        lines += warnings.map { "# Warning: " + $0 + "." }

        var top: [YAMLPair] = []
        if hasDotEnv && expandsEnvironment {
            top.append(YAMLPair("env_file", .string(".env"), trailing: "process-compose read it for ${VAR}s too"))
        }
        let globalEnv = ComposeValues.environment(ComposeValues.value(root, "environment"))
        if !globalEnv.isEmpty {
            top.append(
                YAMLPair(
                    "env", .map(globalEnv.map { YAMLPair($0.key, .string(escape($0.value ?? "${\($0.key)}"))) }),
                    comments: ["process-compose's global environment: for every service."]))
        }
        lines += YAMLText.lines(top)
        lines.append("")
        lines.append("services:")

        var active: [String] = []
        let converter = ProcessComposeProcess(
            importer: self, roles: roles, names: names,
            dotEnv: hasDotEnv && !dotenvDisabled)
        for (index, (name, node, unexpanded)) in expanded.enumerated() {
            if index > 0 { lines.append("") }
            let musterName = names[name] ?? name
            switch roles[name] ?? .service {
            case let .dropped(reason, replacement):
                lines.append("  # \(musterName): not carried over: \(reason).")
                if let replacement, let target = names[replacement] {
                    lines.append("  # Processes that depended on it wait for \(target) instead.")
                }
                lines.append("  # It ran: \(commandText(node) ?? "")")
            case let .engine(engine):
                lines += YAMLText.lines(
                    [converter.engine(name: musterName, process: name, node: node, engine: engine)], indent: 2)
                active.append(musterName)
            case .service:
                lines += YAMLText.lines(
                    [converter.service(name: musterName, process: name, node: node, unexpanded: unexpanded)], indent: 2)
                active.append(musterName)
            }
        }
        if active.isEmpty {
            lines.append("  # Nothing is runnable yet: \(source) has no process with a command.")
        }
        return ImportedStack(
            yaml: lines.joined(separator: "\n") + "\n", services: active, placeholders: [], warnings: warnings)
    }

    /// `$` written `$$` when the file turned off variable expansion.
    func escape(_ text: String) -> String {
        expandsEnvironment ? text : text.replacingOccurrences(of: "$", with: "$$")
    }

    /// A value on one line, for comments.
    static func inline(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar): return scalar.string
        case let .sequence(items): return "[" + items.map(inline).joined(separator: ", ") + "]"
        case let .mapping(mapping):
            return "{"
                + mapping.map { (ComposeValues.string($0.key) ?? "?") + ": " + inline($0.value) }.joined(
                    separator: ", ") + "}"
        case .alias: return "*alias"
        }
    }
}

/// process-compose's `{{.NAME}}` templates (Go templates over `vars`).
enum ProcessComposeTemplates {
    static let pattern = try! NSRegularExpression(pattern: #"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}"#)

    static func vars(_ node: Node?) -> [String: String] {
        Dictionary(
            ComposeValues.pairs(node).compactMap { pair in ComposeValues.string(pair.value).map { (pair.key, $0) } },
            uniquingKeysWith: { _, last in last })
    }

    /// `text` with each `{{.NAME}}` replaced; templates it cannot expand go to `unexpanded`.
    static func expand(_ text: String, vars: [String: String], unexpanded: inout [String]) -> String {
        guard text.contains("{{") else { return text }
        var result = ""
        let nsText = text as NSString
        var cursor = 0
        for match in pattern.matches(in: text, range: NSRange(location: 0, length: nsText.length)) {
            let name = nsText.substring(with: match.range(at: 1))
            result += nsText.substring(with: NSRange(location: cursor, length: match.range.location - cursor))
            if let value = vars[name] {
                result += value
            } else {
                result += nsText.substring(with: match.range)
                unexpanded.append(nsText.substring(with: match.range))
            }
            cursor = match.range.location + match.range.length
        }
        result += nsText.substring(from: cursor)
        // Other Go template syntax ({{if}}, pipelines) is left as written, and said so.
        if result.contains("{{") && !unexpanded.contains(where: { result.contains($0) }) {
            unexpanded.append("{{…}}")
        }
        return result
    }

    /// The node with every scalar (not the keys) expanded. `vars` itself is left as written.
    static func expand(_ node: Node, vars: [String: String], unexpanded: inout [String]) -> Node {
        switch node {
        case let .scalar(scalar):
            var copy = scalar
            copy.string = expand(scalar.string, vars: vars, unexpanded: &unexpanded)
            return .scalar(copy)
        case let .mapping(mapping):
            var pairs: [(Node, Node)] = []
            for (key, value) in mapping {
                pairs.append(
                    (
                        key,
                        ComposeValues.string(key) == "vars" ? value : expand(value, vars: vars, unexpanded: &unexpanded)
                    ))
            }
            return .mapping(Node.Mapping(pairs))
        case let .sequence(sequence):
            var items: [Node] = []
            for item in sequence { items.append(expand(item, vars: vars, unexpanded: &unexpanded)) }
            return .sequence(Node.Sequence(items))
        case .alias:
            return node
        }
    }
}
