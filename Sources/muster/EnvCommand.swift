import ArgumentParser
import MusterKit

struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "env", abstract: "Print the connection variables of the running stack.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case shell, dotenv, json }

    @OptionGroup var global: GlobalOptions
    @Option(help: "shell, dotenv or json.") var format: Format = .shell

    func run() async throws {
        let stack = try global.loadStack()
        let paths = global.paths(for: stack)
        guard let state = RuntimeState.read(paths) else {
            throw MusterError(.notRunning, "project \(paths.project) is not running; start it with muster up")
        }
        let variables = state.variables
        switch format {
        case .json:
            print(JSONText.value(Dictionary(uniqueKeysWithValues: variables.map { ($0.0, $0.1 as Any) })))
        case .dotenv:
            for (key, value) in variables { print("\(key)=\(ShellQuote.quote(value))") }
        case .shell:
            for (key, value) in variables { print("export \(key)=\(ShellQuote.quote(value))") }
        }
    }
}
