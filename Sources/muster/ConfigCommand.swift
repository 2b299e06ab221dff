import ArgumentParser
import MusterKit

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Print the validated, fully resolved stack, secrets masked.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Machine-readable JSON.") var json = false

    func run() async throws {
        let stack = try global.loadStack()
        let rendered = StackRenderer(stack: stack, project: global.project)
        print(json ? rendered.json() : rendered.text())
    }
}
