import Foundation

/// Turns a Procfile (`name: command` per line, as Heroku and foreman read it) into
/// a muster stack: each process becomes a service whose `command` is the same
/// string, run by /bin/sh -c as foreman does.
enum ProcfileImporter {
    struct Process {
        var name: String
        var command: String
    }

    /// The processes, or nil when a non-blank, non-comment line is not `name: command`.
    static func parse(_ text: String) -> [Process]? {
        var processes: [Process] = []
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            let command = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, !command.isEmpty,
                name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
            else { return nil }
            processes.append(Process(name: name, command: command))
        }
        return processes.isEmpty ? nil : processes
    }

    /// The stack file text. A `$` in a command is for the shell, so it is written
    /// `$$` (muster would otherwise interpolate it at load); a process that reads
    /// `$PORT` gets `port: auto`, which sets PORT as Heroku does.
    static func convert(_ processes: [Process], source: String) -> ImportedStack {
        var lines = [
            "# Imported by `muster import` from \(source).",
            "# Each process runs its command under /bin/sh -c; `$$` leaves a `$` for the shell.",
            "# Add depends_on, ready probes and engines (postgres, redis, kafka) as needed; `muster check` validates.",
            "",
            "services:",
        ]
        var names: [String] = []
        for (index, process) in processes.enumerated() {
            if index > 0 { lines.append("") }
            let name = ComposeImporter.musterName(process.name)
            var pairs = [YAMLPair("command", .string(process.command.replacingOccurrences(of: "$", with: "$$")))]
            if readsPort(process.command) {
                pairs.append(YAMLPair("port", .string("auto"), trailing: "muster sets $PORT to a free port"))
            }
            if process.name == "release" {
                pairs[0].comments = ["Heroku runs release once per deploy; here it runs once per `muster up`."]
            }
            lines += YAMLText.lines([YAMLPair(name, .map(pairs))], indent: 2)
            names.append(name)
        }
        return ImportedStack(yaml: lines.joined(separator: "\n") + "\n", services: names, placeholders: [])
    }

    static func readsPort(_ command: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: "\\$(PORT\\b|\\{PORT[}:-])") else { return false }
        return regex.firstMatch(in: command, range: NSRange(command.startIndex..., in: command)) != nil
    }
}
