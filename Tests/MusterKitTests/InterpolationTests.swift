import Testing
@testable import MusterKit

@Suite struct InterpolationTests {
    let interpolator = Interpolator(variables: ["HOST": "db.local", "EMPTY": "", "PORT": "5432"])

    func text(_ input: String) throws -> String {
        try interpolator.interpolate(input).get().description
    }

    @Test func plainAndBraced() throws {
        #expect(try text("$HOST:${PORT}") == "db.local:5432")
        #expect(try text("no vars") == "no vars")
    }

    @Test func defaults() throws {
        #expect(try text("${MISSING:-fallback}") == "fallback")
        #expect(try text("${EMPTY:-fallback}") == "fallback")
        #expect(try text("${EMPTY-fallback}") == "")
        #expect(try text("${MISSING-fallback}") == "fallback")
        #expect(try text("${MISSING:-${HOST}}") == "db.local")
    }

    @Test func alternatives() throws {
        #expect(try text("${HOST:+set}") == "set")
        #expect(try text("${MISSING:+set}") == "")
        #expect(try text("${EMPTY+set}") == "set")
    }

    @Test func requiredVariables() {
        guard case let .failure(problem) = interpolator.interpolate("${MISSING:?give a token}") else {
            Issue.record("expected a failure")
            return
        }
        #expect(problem.message == "variable MISSING is not set: give a token")
    }

    @Test func dollarEscape() throws {
        #expect(try text("cost $$5 and $$HOST") == "cost $5 and $HOST")
    }

    @Test func serviceReferencesStay() throws {
        let template = try interpolator.interpolate("postgres at ${db.url} on $HOST").get()
        #expect(template.references.map { "\($0.service).\($0.output)" } == ["db.url"])
        #expect(template.resolve { service, output in "\(service)-\(output)" } == "postgres at db-url on db.local")
    }

    @Test func unsetIsReported() throws {
        let report = Interpolator.Report()
        _ = try interpolator.interpolate("${NOPE} $ALSO_NOPE", report: report).get()
        #expect(report.unset == ["NOPE", "ALSO_NOPE"])
    }

    @Test func unterminated() {
        guard case let .failure(problem) = interpolator.interpolate("x ${HOST") else {
            Issue.record("expected a failure")
            return
        }
        #expect(problem.message.hasPrefix("unterminated \"${\""))
    }

    @Test func badReference() {
        guard case .failure = interpolator.interpolate("${a.b.c}") else {
            Issue.record("expected a failure")
            return
        }
    }
}

@Suite struct DurationTests {
    @Test func parses() throws {
        #expect(try DurationParser.parse("250ms").get() == .milliseconds(250))
        #expect(try DurationParser.parse("2s").get() == .seconds(2))
        #expect(try DurationParser.parse("1m30s").get() == .seconds(90))
        #expect(try DurationParser.parse("1.5s").get() == .milliseconds(1500))
        #expect(try DurationParser.parse("1h").get() == .seconds(3600))
    }

    @Test(arguments: ["5", "5x", "fast", "", "s", "-1s"])
    func rejects(_ text: String) {
        if case .success = DurationParser.parse(text) { Issue.record("\(text) should be rejected") }
    }

    @Test func bareNumberSaysWhichUnit() {
        guard case let .failure(problem) = DurationParser.parse("10") else { Issue.record("accepted"); return }
        #expect(problem.message.contains("10s"))
    }

    @Test func formats() {
        #expect(DurationParser.format(.milliseconds(250)) == "250ms")
        #expect(DurationParser.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationParser.format(.seconds(125)) == "2m05s")
    }
}

@Suite struct EnvFileTests {
    @Test func composeRules() throws {
        let text = "# comment\nA=1\nexport B = two \nC='lit $x'\nD=\"a\\nb\"\nE=value # note\n\n"
        let pairs = try EnvFile.parse(text, file: ".env").get()
        #expect(pairs.map(\.0) == ["A", "B", "C", "D", "E"])
        #expect(pairs.map(\.1) == ["1", "two", "lit $x", "a\nb", "value"])
    }

    @Test func badLineHasLocation() {
        guard case let .failure(error) = EnvFile.parse("A=1\nnot a pair\n", file: ".env") else {
            Issue.record("accepted"); return
        }
        #expect(error.location == SourceLocation(file: ".env", line: 2, column: 1))
    }
}

@Suite struct SecretsTests {
    @Test func masksURLPasswords() {
        #expect(
            Secrets.mask("postgresql://app:hunter2@127.0.0.1:5432/app") == "postgresql://app:***@127.0.0.1:5432/app")
        #expect(Secrets.mask("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0")
        #expect(Secrets.mask("a http://u:p@h/x and https://v:q@k") == "a http://u:***@h/x and https://v:***@k")
    }

    @Test func masksSecretKeys() {
        #expect(Secrets.display(key: "DB_PASSWORD", value: "x") == "***")
        #expect(Secrets.display(key: "api_token", value: "x") == "***")
        #expect(Secrets.display(key: "LOG_LEVEL", value: "info") == "info")
    }
}
