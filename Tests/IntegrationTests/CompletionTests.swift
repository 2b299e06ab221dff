import Foundation
import Testing
@testable import MusterKit

/// Shell completion scripts load, and complete service names from the stack file.
@Suite struct CompletionTests {
    @Test func bashScriptLoadsAndCompletesServiceNames() async throws {
        let stack = try TestStack(
            """
            services:
              webserver:
                command: ["sleep", "1"]
              worker:
                command: ["sleep", "1"]
            """)
        defer { stack.cleanup() }
        let binDir = URL(fileURLWithPath: TestStack.binary).deletingLastPathComponent().path
        let script = """
            export PATH=\(binDir):$PATH
            source <(muster completion bash) || exit 10
            complete -p muster >/dev/null || exit 11
            COMP_WORDS=(muster restart w); COMP_CWORD=2; COMP_LINE='muster restart w'; COMP_POINT=${#COMP_LINE}
            _muster
            echo "${COMPREPLY[*]}"
            """
        let result = try await CLIResult.run(command: ["/bin/bash", "-c", script], in: stack.directory)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("webserver") && result.output.contains("worker"), "\(result.output)")
        for shell in ["zsh", "fish"] {
            let generated = try await stack.muster("completion", shell)
            #expect(generated.status == 0 && generated.output.contains("muster"))
        }
    }
}
