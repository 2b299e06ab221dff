import ArgumentParser
import Foundation
import MusterKit

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check that the stack can start here: servers found, user, ports, runtime folder, kernel features.",
        discussion: """
            One row per engine the stack uses (all three when there is no stack file): found or missing, the binary, \
            its version and where it was found, or the command that installs it. For Kafka, the implementation that \
            will run and what it lacks, each limit with the figure measured here and what to do about it. Exit 0 when \
            the stack can start, 1 when it cannot, 2 for a bad stack file.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Machine-readable output.") var json = false

    func run() async throws {
        var stack: StackSpec?
        if !global.files.isEmpty || FileManager.default.fileExists(atPath: StackLoader.defaultPath()) {
            stack = try global.loadStack()
        }
        let paths = stack.map(global.paths(for:))
        let report = DoctorReport(stack: stack, paths: paths)
        if json {
            print(String(decoding: ControlJSON.encode(report), as: UTF8.self))
        } else {
            print(Self.render(report, console: .standardOutput))
        }
        if !report.canStart { throw ExitCode(1) }
    }

    static func render(_ report: DoctorReport, console out: Console) -> String {
        var lines: [String] = []
        lines.append(
            report.stackFile.map { "stack \($0) (project \(report.project ?? "?"))" }
                ?? "no stack file here: checking all three engines")
        var rows = [["ENGINE", "STATE", "VERSION", "BINARY", "FOUND IN"]]
        for engine in report.engines {
            rows.append([
                engine.engine, engine.found ? "found" : "MISSING", engine.version ?? "-", engine.binary ?? "-",
                engine.foundIn.map { String($0.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces) } ?? "-",
            ])
        }
        lines += Table.render(rows)
        for engine in report.engines where !engine.found {
            lines.append(
                out.paint("\(engine.engine) is missing", .boldRed)
                    + " (looked in \(engine.looked.joined(separator: "; ")))")
            lines.append("  install it with: \(engine.install ?? "?")")
        }
        for engine in report.engines {
            lines += implementationLines(engine, console: out)
        }
        for check in report.checks {
            lines.append(
                (check.ok ? out.paint("ok  ", .green) : out.paint("NO  ", .boldRed)) + "\(check.name): \(check.detail)")
        }
        if let plugin = report.pytestPlugin {
            lines += pluginLines(plugin, console: out)
        }
        lines.append(
            report.canStart
                ? out.paint("the stack can start here", .boldGreen)
                : out.paint("the stack cannot start here; see above", .boldRed))
        return lines.joined(separator: "\n")
    }

    /// The pytest plugin: there, or the one command that installs it.
    static func pluginLines(_ plugin: PluginCheck, console out: Console) -> [String] {
        guard let python = plugin.python else {
            return [out.paint("--  ", .yellow) + "pytest plugin: no python3 on PATH to look in"]
        }
        if plugin.installed { return [out.paint("ok  ", .green) + "pytest plugin: installed in \(python)"] }
        guard let install = plugin.install else {
            return [
                out.paint("--  ", .yellow)
                    + "pytest plugin: not in \(python), and this muster came without it (pip install ./integrations/pytest-muster from a checkout)"
            ]
        }
        if plugin.externallyManaged == true {
            return [
                out.paint("--  ", .yellow)
                    + "pytest plugin: not in \(python), which is externally managed (pip installs only into a virtual environment); install it into ./.venv with: \(install)"
            ]
        }
        return [out.paint("--  ", .yellow) + "pytest plugin: not in \(python); install it with: \(install)"]
    }

    /// Which implementation will run and what it lacks, each limit with its measured
    /// figure and what to do; or that it is untested here.
    static func implementationLines(_ engine: DoctorReport.EngineCheck, console out: Console) -> [String] {
        guard let raw = engine.implementation, let implementation = ServiceKind.Implementation(rawValue: raw) else {
            return []
        }
        let name = implementation.displayName + (engine.version.map { " " + $0 } ?? "")
        if let note = engine.note {
            return [out.paint("\(engine.engine) runs \(name)", .bold) + ": " + note]
        }
        let limits = engine.limits ?? []
        guard !limits.isEmpty else { return [out.paint("\(engine.engine) runs \(name)", .bold)] }
        var lines = [
            out.paint("\(engine.engine) runs \(name)", .bold)
                + ", which lacks (measured with confluent-kafka, aiokafka and kafka-python, Tests/KafkaClients):"
        ]
        for limit in limits {
            lines.append("  - \(limit.limit)")
            lines.append("    measured: \(limit.measured)")
            lines.append("    " + out.paint("what to do:", .yellow) + " \(limit.workaround)")
        }
        return lines
    }
}
