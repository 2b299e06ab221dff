import Foundation

/// A command line that runs a server muster has an engine for: `postgres -D data`,
/// `pg_ctl ... start`, `redis-server --port 6380`, `kafka-server-start.sh`,
/// `redpanda start`, `tansu broker`. process-compose files run these by hand; the
/// import replaces them with engines. It judges by the program the command runs,
/// never by what the process is called.
struct CommandEngine {
    var kind: EngineKind
    var implementation: KafkaImplementation
    /// The program as written (`/nix/store/…/bin/postgres`, `pg_ctl`, `valkey-server`).
    var program: String
    /// The words after the program, in its own part of the command line.
    var arguments: [String]

    /// Separators between the simple commands of one shell line.
    static let separators: Set<String> = ["&&", "||", ";", "|", "&"]
    /// Words that run the next word as the program.
    static let launchers: Set<String> = ["exec", "env", "nohup", "command", "time", "setsid", "stdbuf"]

    /// The engine the command runs, or nil. `initdb -D x && postgres -D x` is Postgres.
    static func recognize(_ command: String) -> CommandEngine? {
        for segment in segments(of: command) {
            var words = segment[...]
            while let first = words.first,
                launchers.contains(first) || isAssignment(first)
                    || (first.hasPrefix("-") && words.startIndex > segment.startIndex)
            {
                words = words.dropFirst()
            }
            guard let program = words.first else { continue }
            let rest = Array(words.dropFirst())
            switch (program as NSString).lastPathComponent {
            case "postgres", "postmaster":
                return CommandEngine(kind: .postgres, implementation: .auto, program: program, arguments: rest)
            case "pg_ctl" where rest.contains("start") || rest.contains("restart"):
                return CommandEngine(kind: .postgres, implementation: .auto, program: program, arguments: rest)
            case "redis-server", "valkey-server", "redis-stack-server":
                return CommandEngine(kind: .redis, implementation: .auto, program: program, arguments: rest)
            case "kafka-server-start.sh", "kafka-server-start":
                return CommandEngine(kind: .kafka, implementation: .apache, program: program, arguments: rest)
            case "redpanda":
                return CommandEngine(kind: .kafka, implementation: .redpanda, program: program, arguments: rest)
            case "rpk" where rest.first == "redpanda" && rest.contains("start"):
                return CommandEngine(kind: .kafka, implementation: .redpanda, program: program, arguments: rest)
            case "tansu", "tansu-server":
                return CommandEngine(kind: .kafka, implementation: .tansu, program: program, arguments: rest)
            default: continue
            }
        }
        return nil
    }

    /// True when the command only prepares a Postgres data folder (`initdb -D data`),
    /// which muster's engine does itself.
    static func isPostgresSetup(_ command: String) -> Bool {
        let programs = segments(of: command).compactMap { $0.first { !launchers.contains($0) && !isAssignment($0) } }
        return !programs.isEmpty && programs.contains { ($0 as NSString).lastPathComponent == "initdb" }
            && programs.allSatisfy {
                ["initdb", "mkdir", "rm", "test", "[", "echo", "true"].contains(($0 as NSString).lastPathComponent)
            }
    }

    static func isAssignment(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "="), equals != word.startIndex else { return false }
        return word[..<equals].allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }

    /// The simple commands of a shell line, as word lists.
    static func segments(of command: String) -> [[String]] {
        var segments: [[String]] = [[]]
        for word in ComposeValues.shellWords(command) {
            var word = word
            if separators.contains(word) { segments.append([]); continue }
            let ends = word.hasSuffix(";") && word.count > 1
            if ends { word.removeLast() }
            segments[segments.count - 1].append(word)
            if ends { segments.append([]) }
        }
        return segments.filter { !$0.isEmpty }
    }

    /// The engine's fields from the command's flags: `port` when one is given,
    /// `settings` (and `password` for Redis), and what muster sets itself in `dropped`.
    func fields() -> (port: Int?, fields: ComposeEngineFields) {
        switch kind {
        case .postgres: return postgresFields()
        case .redis: return redisFields()
        case .kafka: return kafkaFields()
        }
    }

    /// Postgres flags with a value that muster sets itself (data dir, socket dir, listen address).
    static let postgresOwnFlags: [String: String] = [
        "-D": "data folder", "-k": "socket folder", "-h": "listen address", "-l": "log file",
    ]

    private func postgresFields() -> (port: Int?, fields: ComposeEngineFields) {
        var words = arguments
        var dropped: [String] = []
        if (program as NSString).lastPathComponent == "pg_ctl" {
            // pg_ctl's own flags go; the server's flags are in -o "...".
            var server: [String] = []
            var index = 0
            while index < words.count {
                let word = words[index]
                index += 1
                if word == "-o", index < words.count {
                    server += ComposeValues.shellWords(words[index]); index += 1
                } else if let what = Self.postgresOwnFlags[word], index < words.count {
                    dropped.append("\(word) \(words[index]) (muster keeps its own \(what))"); index += 1
                } else if word == "-t", index < words.count {
                    index += 1
                }
            }
            words = server
        }
        var port: Int?
        var rest: [String] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            index += 1
            if word == "-p", index < words.count {
                port = Int(words[index]); index += 1
            } else if word.hasPrefix("--port=") {
                port = Int(word.dropFirst("--port=".count))
            } else if let what = Self.postgresOwnFlags[word], index < words.count {
                dropped.append("\(word) \(words[index]) (muster keeps its own \(what))"); index += 1
            } else if word == "-c", index < words.count, words[index].hasPrefix("port=") {
                port = Int(words[index].dropFirst("port=".count)); index += 1
            } else {
                rest.append(word)
            }
        }
        var fields = ComposeEngineFields(kind: .postgres, command: ["postgres"] + rest, environment: [])
        fields.dropped = dropped + fields.dropped
        return (port, fields)
    }

    private func redisFields() -> (port: Int?, fields: ComposeEngineFields) {
        var port: Int?
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--port", index < arguments.count {
                port = Int(arguments[index]); index += 1
            } else {
                rest.append(word)
            }
        }
        return (port, ComposeEngineFields(kind: .redis, command: ["redis-server"] + rest, environment: []))
    }

    private func kafkaFields() -> (port: Int?, fields: ComposeEngineFields) {
        var fields = ComposeEngineFields(kind: .kafka, command: nil, environment: [])
        var settings: [(String, String)] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--override", index < arguments.count, let equals = arguments[index].firstIndex(of: "=") {
                let assignment = arguments[index]
                index += 1
                let key = String(assignment[..<equals])
                if [
                    "listeners", "advertised.listeners", "log.dirs", "node.id", "broker.id", "controller.quorum.voters",
                ].contains(key) {
                    fields.dropped.append("--override \(key) (muster sets it)")
                } else {
                    settings.append((key, String(assignment[assignment.index(after: equals)...])))
                }
            } else if word.hasSuffix(".properties") {
                fields.dropped.append("config file \(word) (copy the settings you need into settings:)")
            } else if word.hasPrefix("-") {
                fields.dropped.append("flag \(word) (the broker's flags are muster's)")
            }
        }
        fields.addSettings(settings)
        return (nil, fields)
    }
}
