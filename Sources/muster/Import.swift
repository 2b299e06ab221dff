import ArgumentParser
import Foundation
import MusterKit

/// `muster import FILE`: a compose file, a process-compose file or a Procfile becomes a stack file, checked
/// right away so the user learns at once what still needs a hand.
struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a docker-compose.yml, a process-compose.yaml or a Procfile into a muster stack file.",
        discussion: """
            Postgres, Redis and Kafka images become engines; services built from a Dockerfile or from other images become commented-out placeholders that need a command to run natively. Compose's include: is followed.

            process-compose processes become services that run as written; those whose command runs postgres, redis-server, a Kafka broker, Redpanda or Tansu become engines. What muster has no equal for is kept as a comment.

            Writes muster.yaml beside FILE unless -o says otherwise, and never overwrites without --force.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A docker-compose.yml (compose spec), a process-compose.yaml or a Procfile.")
    var input: String?

    @Option(name: [.short, .customLong("output")], help: "The stack file to write (default: muster.yaml beside FILE).")
    var output: String?

    @Flag(help: "Overwrite the output file if it exists.")
    var force = false

    func run() async throws {
        guard let path = input ?? global.file else {
            throw MusterError(
                .usage, "muster import needs a FILE: a docker-compose.yml, a process-compose.yaml or a Procfile")
        }
        let (stack, written) = try StackImporter.run(input: path, output: output, force: force)
        // Name the file as the user would: beside FILE, spelled the way FILE was.
        let folder = (path as NSString).deletingLastPathComponent
        let shown = output ?? (folder.isEmpty ? "muster.yaml" : folder + "/muster.yaml")
        var summary = "wrote \(shown): \(stack.services.count) service\(stack.services.count == 1 ? "" : "s") to run"
        if !stack.services.isEmpty { summary += " (\(stack.services.joined(separator: ", ")))" }
        if !stack.placeholders.isEmpty {
            summary +=
                ", \(stack.placeholders.count) placeholder\(stack.placeholders.count == 1 ? "" : "s") to complete (\(stack.placeholders.joined(separator: ", ")))"
        }
        print(summary)
        for warning in stack.warnings { Output.warning(warning) }
        do {
            let loaded = try StackLoader.load(path: written)
            for warning in loaded.warnings { Output.warning(warning) }
        } catch let error as MusterError {
            Output.warning("\(shown) does not pass `muster check` yet: \(error.headline)")
        }
    }
}
