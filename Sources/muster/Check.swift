import ArgumentParser
import MusterKit

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Validate the stack file without starting anything.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let stack = try global.loadStack()
        let waves = DependencyGraph(stack: stack).waves()
        print(
            "\(stack.file): ok, project \(stack.name), \(stack.services.count) services in \(waves.count) start waves")
    }
}
