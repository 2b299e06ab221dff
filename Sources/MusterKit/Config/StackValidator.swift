import Foundation

/// Checks that need the whole stack: dependencies, cycles, references, ports,
/// probes that need an engine, and programs that cannot be found.
struct StackValidator {
    let stack: StackSpec

    func validate() throws {
        let names = stack.serviceNames
        for service in stack.services {
            if let snapshot = service.engine?.snapshot {
                guard let task = stack.service(named: snapshot.after), task.name != service.name else {
                    throw MusterError.invalid(
                        "service \(service.name): snapshot after \"\(snapshot.after)\", which is not a service of this stack"
                            + Suggestion.hint(for: snapshot.after, in: names)
                            + "; name the task that migrates the database",
                        at: snapshot.location)
                }
                guard task.dependsOn.contains(where: { $0.service == service.name }) else {
                    throw MusterError.invalid(
                        "service \(service.name): snapshot after \(task.name), which does not depend on \(service.name); add depends_on: { \(service.name): ready } to \(task.name)",
                        at: snapshot.location)
                }
            }
            for dependency in service.dependsOn {
                if dependency.service == service.name {
                    throw MusterError.invalid(
                        "service \(service.name) depends on itself; remove it from depends_on",
                        at: dependency.location)
                }
                guard names.contains(dependency.service) else {
                    throw MusterError.invalid(
                        "service \(service.name) depends on \"\(dependency.service)\", which is not defined"
                            + Suggestion.hint(for: dependency.service, in: names), at: dependency.location)
                }
            }
        }
        let graph = DependencyGraph(stack: stack)
        if let cycle = graph.cycle() {
            let first = stack.service(named: cycle[0])
            let location = first?.dependsOn.first { $0.service == cycle[1] }?.location ?? first?.location
            throw MusterError.invalid(
                "dependency cycle: \(cycle.joined(separator: " -> ")); break it by removing one depends_on",
                at: location)
        }
        try checkReferences()
        try checkCompletionWaits()
        try checkWatchRules()
        try checkPorts()
        try checkProbes()
        try checkPrograms()
    }

    func checkReferences() throws {
        for service in stack.services {
            for template in service.templates + stack.env.map(\.value) {
                for reference in template.references {
                    guard let target = stack.service(named: reference.service) else {
                        throw MusterError.invalid(
                            "${\(reference.service).\(reference.output)} refers to service \"\(reference.service)\", which is not defined"
                                + Suggestion.hint(for: reference.service, in: stack.serviceNames), at: template.location
                        )
                    }
                    let outputs = OutputCatalog.names(for: target)
                    guard outputs.contains(reference.output) else {
                        let available =
                            outputs.isEmpty
                            ? "it has none (declare a port to get ${\(target.name).port})"
                            : "it has " + outputs.joined(separator: ", ")
                        throw MusterError.invalid(
                            "${\(reference.service).\(reference.output)}: service \(target.name) has no output \"\(reference.output)\"; "
                                + available + Suggestion.hint(for: reference.output, in: outputs), at: template.location
                        )
                    }
                }
            }
        }
    }

    func checkPorts() throws {
        var seen: [Int: String] = [:]
        for service in stack.services {
            guard case let .fixed(port)? = service.port else { continue }
            if let other = seen[port] {
                throw MusterError.invalid(
                    "port \(port) of service \(service.name) is already used by service \(other); give one of them another port or \"auto\"",
                    at: service.portLocation ?? service.location)
            }
            seen[port] = service.name
        }
    }

    func checkProbes() throws {
        for service in stack.services {
            for probe in [service.ready, service.alive].compactMap({ $0 }) {
                switch probe.kind {
                case .postgres where service.engine?.kind != .postgres,
                    .redis where service.engine?.kind != .redis:
                    throw MusterError.invalid(
                        "a \(probe.kind.name) probe only applies to an engine: \(probe.kind.name) service",
                        at: probe.location)
                case let .kafka(group, _):
                    if service.engine?.kind == .kafka { continue }
                    guard group != nil else {
                        throw MusterError.invalid(
                            "a kafka probe on an app service needs group: (and topic:)", at: probe.location)
                    }
                    if brokers(for: service).count != 1 {
                        throw MusterError.invalid(
                            "service \(service.name)'s kafka probe needs exactly one kafka engine among its depends_on",
                            at: probe.location)
                    }
                default: continue
                }
            }
        }
    }

    /// The kafka engines a service's group probe can talk to: those it depends on,
    /// or the only one in the stack.
    func brokers(for service: ServiceSpec) -> [String] {
        let kafkas = stack.services.filter { $0.engine?.kind == .kafka }.map(\.name)
        let direct = service.dependsOn.map(\.service).filter(kafkas.contains)
        return direct.isEmpty && kafkas.count == 1 ? kafkas : direct
    }

    func checkPrograms() throws {
        for service in stack.services {
            guard case let .exec(argv)? = service.command, let program = argv.first, program.references.isEmpty else {
                continue
            }
            let name = program.description
            if ProgramLocator.find(name, workingDir: service.workingDir, path: pathVariable(for: service)) == nil {
                let hint =
                    name.contains("/")
                    ? "check the path (relative paths start at working_dir)" : "install it or give its full path"
                throw MusterError.invalid(
                    "service \(service.name): program \"\(name)\" not found or not executable; \(hint)",
                    at: program.location)
            }
        }
    }

    func pathVariable(for service: ServiceSpec) -> String {
        let entries = stack.env + service.envFileValues + service.env
        if let path = entries.last(where: { $0.key == "PATH" }), path.value.references.isEmpty {
            return path.value.description
        }
        return ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    }
}

/// Finds the program a command runs, as execvp would, but with the child's PATH
/// and working directory.
public enum ProgramLocator {
    public static func find(_ name: String, workingDir: String, path: String) -> String? {
        if name.contains("/") {
            let full = StackLoader.resolve(name, in: workingDir)
            return isExecutableFile(full) ? full : nil
        }
        for directory in path.split(separator: ":") {
            let dir = directory.isEmpty ? workingDir : StackLoader.resolve(String(directory), in: workingDir)
            let candidate = dir + "/" + name
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            && access(path, X_OK) == 0
    }
}

/// The outputs each service publishes (SPEC "Outputs").
public enum OutputCatalog {
    public static func names(for service: ServiceSpec) -> [String] {
        switch service.engine?.kind {
        case .postgres?: return ["host", "port", "user", "password", "database", "url"]
        case .redis?: return ["host", "port", "url"]
        case .kafka?: return ["host", "port", "bootstrap"]
        case nil: return service.port == nil ? [] : ["host", "port"]
        }
    }
}
