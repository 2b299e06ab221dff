import Foundation
import Yams

/// `muster import`: reads a compose file or a Procfile, writes a stack file, and
/// never overwrites one unless asked. Errors are `.usage` (exit 2): the input is
/// what is wrong, and nothing was written.
public enum StackImporter {
    /// `muster.yaml` beside the input file.
    public static func defaultOutput(for input: String) -> String {
        let directory = (StackLoader.absolutePath(input) as NSString).deletingLastPathComponent
        return directory + "/muster.yaml"
    }

    /// Converts `input` without writing anything.
    public static func convert(path input: String) throws -> ImportedStack {
        let absolute = StackLoader.absolutePath(input)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw MusterError(.usage, "\(input) not found; pass a docker-compose.yml or a Procfile")
        }
        guard let data = FileManager.default.contents(atPath: absolute), data.count <= StackLoader.maxFileBytes,
              let text = String(data: data, encoding: .utf8) else {
            throw MusterError(.usage, "\(input) cannot be read as UTF-8 text of at most \(StackLoader.maxFileBytes / 1024) KiB")
        }
        return try convert(text: text, source: (absolute as NSString).lastPathComponent)
    }

    /// Compose when the YAML has `services:`; a Procfile when every line is `name: command`.
    public static func convert(text: String, source: String) throws -> ImportedStack {
        let looksLikeProcfile = source.lowercased().hasPrefix("procfile")
        if !looksLikeProcfile {
            var root: Node?
            do {
                try StackLoader.checkNesting(text, file: source)
                try StackLoader.checkAliasKeys(text, file: source)
                root = try Yams.compose(yaml: text)
            } catch let error as YamlError {
                // Broken YAML that has a services: line is a compose file to fix, not a Procfile.
                let composeLike = text.hasPrefix("services:") || text.contains("\nservices:")
                if composeLike || ProcfileImporter.parse(text) == nil {
                    throw usage(StackLoader.yamlError(error, file: source, yaml: text))
                }
            } catch let error as MusterError {
                throw usage(error)
            }
            if let root, ComposeValues.value(root, "services") != nil {
                guard !ComposeValues.pairs(ComposeValues.value(root, "services")).isEmpty else {
                    throw MusterError(.usage, "\(source): services: is empty; there is nothing to import")
                }
                return ComposeImporter(root: root, source: source).convert()
            }
            // A Procfile read as YAML is a mapping of plain values; lists or mappings mean something else.
            if case let .mapping(mapping)? = root, mapping.contains(where: { if case .scalar = $0.value { return false }; return true }) {
                throw MusterError(.usage, "\(source) is neither a compose file (no services: key) nor a Procfile (name: command lines)")
            }
        }
        guard let processes = ProcfileImporter.parse(text) else {
            throw MusterError(.usage, looksLikeProcfile
                ? "\(source): every line of a Procfile must be `name: command`"
                : "\(source) is neither a compose file (no services: key) nor a Procfile (name: command lines)")
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
            throw MusterError(.usage, "\(output ?? target) already exists; pass --force to overwrite it or -o to write elsewhere")
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
