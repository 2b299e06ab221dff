import ArgumentParser
import MusterKit

/// `muster export compose|kubernetes`: the validated stack in another world's
/// format, on stdout, so it can be piped or redirected.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print the stack as a Compose file or Kubernetes manifests.",
        discussion: """
            Engines become their official images (postgres:15, redis:7, apache/kafka) with the same settings; probes become healthchecks or readiness probes; app services keep their command, environment and port under a placeholder image to replace.

            Examples: muster export compose > compose.yaml; muster export kubernetes | kubectl apply -f -
            """
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case compose, kubernetes
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "compose or kubernetes.")
    var target: Target

    func run() async throws {
        var stack = try global.loadStack()
        if let project = global.project { stack.name = project }
        switch target {
        case .compose: print(ComposeExporter(stack: stack).render(), terminator: "")
        case .kubernetes: print(KubernetesExporter(stack: stack).render(), terminator: "")
        }
    }
}
