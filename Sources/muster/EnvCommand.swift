import ArgumentParser
import MusterKit

struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env", abstract: "Print the connection variables of the running stack.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case shell, dotenv, json }

    @OptionGroup var global: GlobalOptions
    @Option(help: "shell, dotenv or json.") var format: Format = .shell

    func run() async throws {
        let (_, paths) = try global.resolveRunning()
        let client = try global.runningClient(paths)
        let values = try ControlJSON.decode([String: String].self, from: client.request("GET", "/v1/env").body)
        let variables = values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        switch format {
        case .json:
            print(JSONValue.object(variables.map { .init($0.0, .string($0.1)) }).text)
        case .dotenv:
            for (key, value) in variables { print("\(key)=\(ShellQuote.quote(value))") }
        case .shell:
            for (key, value) in variables { print("export \(key)=\(ShellQuote.quote(value))") }
        }
    }
}
