import Foundation
import Yams

/// `muster import`: reads a compose file, a process-compose file or a Procfile, writes a stack file, and
/// never overwrites one unless asked. Errors are `.usage` (exit 2): the input is
/// what is wrong, and nothing was written.
public enum StackImporter {
    /// `muster.yaml` beside the input file.
    public static func defaultOutput(for input: String) -> String {
        let directory = (StackLoader.absolutePath(input) as NSString).deletingLastPathComponent
        return directory + "/muster.yaml"
    }

    /// Converts `input` without writing anything.
    public static func convert(
        path input: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ImportedStack {
        let absolute = StackLoader.absolutePath(input)
        let text = try readInput(absolute, shown: input)
        return try convert(
            text: text, source: (absolute as NSString).lastPathComponent,
            directory: (absolute as NSString).deletingLastPathComponent, environment: environment)
    }

    /// The text of an input file, with the checks every input gets (exists, size, UTF-8).
    static func readInput(_ absolute: String, shown: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw MusterError(
                .usage, "\(shown) not found; pass a docker-compose.yml, a process-compose.yaml or a Procfile")
        }
        guard let data = FileManager.default.contents(atPath: absolute), data.count <= StackLoader.maxFileBytes,
            let text = String(data: data, encoding: .utf8)
        else {
            throw MusterError(
                .usage, "\(shown) cannot be read as UTF-8 text of at most \(StackLoader.maxFileBytes / 1024) KiB")
        }
        return text
    }

    /// A process-compose file when the YAML has `processes:`; compose when it has
    /// `services:` or `include:`; a Procfile when every line is `name: command`.
    /// - Parameter directory: the input's folder, where `include:` paths and `.env` are found.
    public static func convert(
        text: String, source: String, directory: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ImportedStack {
        let directory = directory ?? FileManager.default.currentDirectoryPath
        let looksLikeProcfile = source.lowercased().hasPrefix("procfile")
        if !looksLikeProcfile {
            var root: Node?
            do {
                try StackLoader.checkNesting(text, file: source)
                try StackLoader.checkAliasKeys(text, file: source)
                root = try Yams.compose(yaml: text)
            } catch let error as YamlError {
                // Broken YAML that has a services:/processes: line, or is named like a
                // compose file, is a file to fix, not a Procfile.
                let yamlLike =
                    ["services:", "processes:", "include:"].contains { text.hasPrefix($0) || text.contains("\n" + $0) }
                    || source.lowercased().contains("compose") || source.lowercased().hasSuffix(".yaml")
                    || source.lowercased().hasSuffix(".yml")
                if yamlLike || ProcfileImporter.parse(text) == nil {
                    throw usage(StackLoader.yamlError(error, file: source, yaml: text))
                }
            } catch let error as MusterError {
                throw usage(error)
            }
            if let root, let processes = ComposeValues.value(root, "processes") {
                guard case .mapping = processes else {
                    throw MusterError(
                        .usage,
                        "\(source): processes: must be a mapping of NAME: {command: ...}, as process-compose reads it")
                }
                guard !ComposeValues.pairs(processes).isEmpty else {
                    throw MusterError(.usage, "\(source): processes: is empty; there is nothing to import")
                }
                return ProcessComposeImporter(
                    root: root, source: source, directory: directory, environment: environment
                ).convert()
            }
            if let root, ComposeValues.value(root, "services") != nil || ComposeValues.value(root, "include") != nil {
                let merged = try ComposeInclude.resolve(root, file: directory + "/" + source, shown: source)
                guard !ComposeValues.pairs(ComposeValues.value(merged, "services")).isEmpty else {
                    throw MusterError(.usage, "\(source): services: is empty; there is nothing to import")
                }
                return ComposeImporter(root: merged, source: source, directory: directory, environment: environment)
                    .convert()
            }
            // A Procfile read as YAML is a mapping of plain values; lists or mappings mean something else.
            if case let .mapping(mapping)? = root,
                mapping.contains(where: {
                    if case .scalar = $0.value { return false }; return true
                })
            {
                throw MusterError(
                    .usage,
                    "\(source) is neither a compose file (no services: key), a process-compose file (no processes: key) nor a Procfile (name: command lines)"
                )
            }
        }
        guard let processes = ProcfileImporter.parse(text) else {
            throw MusterError(
                .usage,
                looksLikeProcfile
                    ? "\(source): every line of a Procfile must be `name: command`"
                    : "\(source) is neither a compose file (no services: key), a process-compose file (no processes: key) nor a Procfile (name: command lines)"
            )
        }
        return ProcfileImporter.convert(processes, source: source)
    }

    static func usage(_ error: MusterError) -> MusterError {
        var error = error
        error.code = .usage
        return error
    }

    /// Converts `input` and writes the stack file; returns the result and where it went.
    /// - Important: refuses an existing `output` unless `force`, before reading anything.
    @discardableResult
    public static func run(input: String, output: String?, force: Bool) throws -> (stack: ImportedStack, path: String) {
        let target = output.map(StackLoader.absolutePath) ?? defaultOutput(for: input)
        if FileManager.default.fileExists(atPath: target) && !force {
            throw MusterError(
                .usage, "\(output ?? target) already exists; pass --force to overwrite it or -o to write elsewhere")
        }
        let stack = try convert(path: input)
        do {
            try stack.yaml.write(toFile: target, atomically: true, encoding: .utf8)
        } catch {
            throw MusterError(.usage, "cannot write \(output ?? target): \(error.localizedDescription)")
        }
        return (stack, target)
    }
}
