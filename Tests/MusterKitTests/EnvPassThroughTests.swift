import Testing
@testable import MusterKit

/// `KEY:` with no value takes the variable from muster's environment (compose
/// semantics); a quoted "" is an empty value.
@Suite struct EnvPassThroughTests {
    @Test func plainNullPassesTheVariableThrough() throws {
        let yaml = """
            name: e
            services:
              a:
                command: ["true"]
                env:
                  FROM_HOST:
                  TILDE: ~
                  EMPTY: ""
                  ABSENT:
            """
        let stack = try StackLoader.parse(
            yaml: yaml, file: "muster.yaml", directory: "/tmp",
            environment: ["FROM_HOST": "5", "TILDE": "t"])
        let env = try #require(stack.service(named: "a")).env
        let values = Dictionary(uniqueKeysWithValues: env.map { ($0.key, $0.value.resolve { _, _ in nil }) })
        #expect(values["FROM_HOST"] == "5")
        #expect(values["TILDE"] == "t")
        #expect(values["EMPTY"] == "")
        #expect(values["ABSENT"] == nil, "unset in muster's environment: left out, as compose does")
    }
}
