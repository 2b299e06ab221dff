import Foundation
import Yams

/// What a command on a running stack (`ps`, `logs`, `down`, `stop`, `db`, ...) needs
/// from the stack file: where the project keeps its state (the first file's folder
/// and the project name) and the names of its services. The running supervisor holds
/// the resolved stack; the file is read only for this, so a variable it uses that this
/// shell lacks is a warning, not an error: a new terminal can still stop its stack.
public struct StackIdentity: Sendable {
    /// The first stack file, as given.
    public var file: String
    /// The project folder: the first file's.
    public var directory: String
    /// The project name: `name:`, else from the folder. Nil when `name:` could not be
    /// read (it needs a variable that is not set); `nameProblem` says why.
    public var name: String?
    public var nameProblem: MusterError?
    /// The keys of `services:`, in file order.
    public var serviceNames: [String]
    /// Variables the files use without a default that are not set here.
    public var unsetVariables: [String]
    /// One line each, for stderr.
    public var warnings: [String]

    /// The project's paths; `project` (`-p`) overrides the name, which is then not needed.
    public func paths(project: String?) throws -> ProjectPaths {
        if let project { return ProjectPaths(directory: directory, project: project) }
        guard let name else {
            throw nameProblem ?? MusterError(.usage, "the project name of \(file) cannot be read; pass -p NAME")
        }
        return ProjectPaths(directory: directory, project: name)
    }
}

extension StackLoader {
    /// Reads only a stack's identity (see `StackIdentity`). A file that is missing or
    /// not YAML, or whose top level is not a mapping, is refused as by `load`; nothing
    /// past the project name and the service names is checked or interpolated.
    public static func identify(paths: [String], environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> StackIdentity
    {
        let files = paths.isEmpty ? [defaultPath()] : paths
        let (root, sources, directory) = try composeMerged(files)
        var reader = YAMLReader(file: files[0], interpolator: Interpolator(variables: environment))
        reader.sources = sources
        let top = try reader.mapping(root, what: "the stack file")
        var identity = StackIdentity(
            file: files[0], directory: directory, name: sanitizedProjectName(from: directory),
            nameProblem: nil, serviceNames: [], unsetVariables: [], warnings: [])

        // The top-level env_file feeds interpolation, as in `load`; here a problem with it is a warning.
        var variables = environment
        if let envFile = top.first(where: { $0.key == "env_file" }) {
            do {
                let written = try reader.string(envFile.value, what: "env_file")
                switch EnvFile.load(resolve(written, in: directory), display: written) {
                case let .failure(error): identity.warnings.append("env_file " + error.message)
                case let .success(pairs):
                    for (key, value) in pairs where variables[key] == nil { variables[key] = value }
                }
            } catch let error as MusterError {
                identity.warnings.append(error.headline)
            }
        }
        reader = YAMLReader(file: files[0], interpolator: Interpolator(variables: variables))
        reader.sources = sources

        if let name = top.first(where: { $0.key == "name" }) {
            do {
                let text = try reader.string(name.value, what: "name")
                try checkName(text, what: "project name", node: name.value, reader: reader)
                identity.name = text
            } catch var error as MusterError {
                error.message = oneLine(error.message) + "; or pass -p NAME"
                identity.name = nil
                identity.nameProblem = error
            }
        }
        if let services = top.first(where: { $0.key == "services" })?.value,
            let pairs = try? reader.mapping(services, what: "services")
        {
            identity.serviceNames = pairs.map(\.key)
        }

        var unset: [String] = []
        for use in VariableCheck.unset(in: root, place: "", known: variables) where !unset.contains(use.name) {
            unset.append(use.name)
        }
        identity.unsetVariables = unset
        if !unset.isEmpty {
            let list = unset.joined(separator: ", ")
            identity.warnings.append(
                "\(list) \(unset.count == 1 ? "is" : "are") not set; the stack file uses "
                    + "\(unset.count == 1 ? "it" : "them"), but this command reads only the running stack (up needs \(unset.count == 1 ? "it" : "them"))"
            )
        }
        return identity
    }
}
