import ArgumentParser
import Foundation
import MusterKit

struct Completion: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script (bash, zsh or fish), with service names from the stack file.",
        discussion: """
            bash:  source <(muster completion bash)        (or save it under /etc/bash_completion.d/muster)
            zsh:   muster completion zsh > "${fpath[1]}/_muster"
            fish:  muster completion fish > ~/.config/fish/completions/muster.fish
            """)

    enum Shell: String, ExpressibleByArgument, CaseIterable { case bash, zsh, fish }

    @Argument(help: "bash, zsh or fish.") var shell: Shell

    func run() throws {
        let kind: CompletionShell
        switch shell {
        case .bash: kind = .bash
        case .zsh: kind = .zsh
        case .fish: kind = .fish
        }
        print(Muster.completionScript(for: kind))
    }
}

/// Service names for shell completion: read from the stack file named on the
/// command line so far (`-f`/`--file`), else the default one.
enum ServiceCompletion {
    static let kind = CompletionKind.custom { arguments, _, prefix in
        var file: String?
        for (index, argument) in arguments.enumerated() where index + 1 < arguments.count {
            if argument == "--file" || argument == "-f" { file = arguments[index + 1] }
        }
        // Only the names: a variable this shell lacks must not hide them.
        guard let identity = try? StackLoader.identify(paths: file.map { [$0] } ?? []) else { return [] }
        return identity.serviceNames.filter { $0.hasPrefix(prefix) }
    }
}
