import Foundation
import Testing
import Yams
@testable import MusterKit

/// `muster import`: compose files and Procfiles become stack files that load as
/// they are, with unknown services left as commented-out placeholders.
@Suite struct ImportTests {
    static let fixtures: String = {
        var url = URL(fileURLWithPath: #filePath)
        url.deleteLastPathComponent()
        url.deleteLastPathComponent()
        return url.appendingPathComponent("Fixtures/interop").path
    }()

    /// A copy of a fixture folder in a fresh temp folder, so imports can write beside it.
    static func scratch(_ fixture: String) throws -> String {
        let directory = NSTemporaryDirectory() + "muster-import-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: fixtures + "/" + fixture) {
            try FileManager.default.copyItem(
                atPath: fixtures + "/" + fixture + "/" + name, toPath: directory + "/" + name)
        }
        return directory
    }

    /// Turns the commented-out block of each named placeholder back into YAML.
    static func uncomment(_ yaml: String, _ names: [String]) -> String {
        var inside = false
        return yaml.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if names.contains(where: { line == "  # \($0):" }) { inside = true }
            if line.isEmpty { inside = false }
            return inside && line.hasPrefix("  # ") ? "  " + line.dropFirst(4) : String(line)
        }.joined(separator: "\n")
    }

    static func settings(_ service: ServiceSpec?) -> [String: String] {
        Dictionary(service?.engine?.settings.map { ($0.key, $0.value) } ?? [], uniquingKeysWith: { $1 })
    }

    @Test func composeWithEnginesAndAppLoads() throws {
        let directory = try Self.scratch("full")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (imported, path) = try StackImporter.run(
            input: directory + "/docker-compose.yml", output: nil, force: false)
        #expect(path == directory + "/muster.yaml")
        #expect(imported.services == ["db", "cache", "bus"])
        #expect(imported.placeholders == ["api", "worker"])

        let stack = try StackLoader.load(path: path, environment: [:])
        #expect(stack.name == "shop")
        #expect(stack.serviceNames == ["db", "cache", "bus"])
        let db = try #require(stack.service(named: "db")?.engine)
        #expect(db.kind == .postgres)
        #expect(Self.settings(stack.service(named: "db")) == ["max_connections": "200", "shared_buffers": "64MB"])
        #expect(db.user == "shop" && db.password == "secret" && db.databases == ["shop"])
        #expect(stack.service(named: "db")?.port == .auto, "only the container port was given")
        #expect(stack.service(named: "cache")?.engine?.kind == .redis)
        #expect(
            Self.settings(stack.service(named: "cache")) == ["maxmemory": "64mb", "maxmemory-policy": "allkeys-lru"])
        #expect(stack.service(named: "bus")?.engine?.kind == .kafka)
        #expect(stack.service(named: "bus")?.engine?.implementation == .auto)
        #expect(imported.yaml.contains("healthcheck dropped: muster's own postgres check"))
    }

    @Test func placeholdersBecomeValidServicesOnceUncommented() throws {
        let directory = try Self.scratch("full")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let imported = try StackImporter.convert(path: directory + "/docker-compose.yml")
        let stack = try StackLoader.parse(
            yaml: Self.uncomment(imported.yaml, ["api", "worker"]), file: "muster.yaml",
            directory: directory, environment: ["LOG_LEVEL": "debug"])
        let api = try #require(stack.service(named: "api"))
        #expect(api.command?.display == "uvicorn shop.main:app --host 0.0.0.0 --port 8000")
        #expect(api.port == .fixed(8000))
        let env = Dictionary(api.env.map { ($0.key, $0.value.description) }, uniquingKeysWith: { $1 })
        #expect(
            env["DATABASE_URL"] == "postgresql://shop:secret@${db.host}:${db.port}/shop",
            "compose hostnames become outputs")
        #expect(env["REDIS_URL"] == "redis://${cache.host}:${cache.port}/0")
        #expect(env["KAFKA_BOOTSTRAP_SERVERS"] == "${bus.host}:${bus.port}")
        #expect(env["LOG_LEVEL"] == "debug", "${VAR:-default} is kept for muster to interpolate")
        #expect(
            api.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } == ["db=ready", "cache=ready", "bus=ready"])
        #expect(api.restart == .always)
        let ready = try #require(api.ready)
        guard case let .exec(.exec(argv)) = ready.kind else { Issue.record("not an exec list: \(ready.kind)"); return }
        #expect(argv.map(\.description) == ["curl", "-f", "http://localhost:8000/healthz"])
        #expect(ready.interval == .seconds(10) && ready.timeout == .seconds(2))
        #expect(ready.startTimeout == .seconds(50), "start_period 20s + 3 retries × 10s")
        let worker = try #require(stack.service(named: "worker"))
        #expect(worker.restart == .onFailure && worker.maxRestarts == 5)
        #expect(worker.env.first?.value.description == "postgresql://shop:secret@${db.host}:${db.port}/shop")
    }

    @Test func composeLogRotationOptionsAreMapped() throws {
        let imported = try StackImporter.convert(
            text: """
                services:
                  cache:
                    image: redis:7
                    logging:
                      driver: json-file
                      options: { max-size: "10m", max-file: "4" }
                """, source: "compose.yaml")
        let stack = try StackLoader.parse(yaml: imported.yaml, file: "muster.yaml", directory: "/tmp", environment: [:])
        // docker's max-file counts the live file; muster's max_files the rotated ones.
        #expect(stack.service(named: "cache")?.logs == LogSettings(maxSize: 10 << 20, maxFiles: 3), "\(imported.yaml)")
    }

    @Test func dockerfileServiceBecomesCommentedPlaceholder() throws {
        let imported = try StackImporter.convert(
            text: """
                services:
                  web:
                    build:
                      context: ./web
                      dockerfile: Dockerfile.dev
                    ports: ["3000:3000"]
                    environment: { NODE_ENV: development }
                  db:
                    image: postgres:15
                """, source: "compose.yaml")
        #expect(imported.placeholders == ["web"])
        let lines = imported.yaml.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "  # web: built from a Dockerfile (build: ./web); muster runs programs natively, not images."))
        #expect(lines.contains("  # web:"))
        #expect(lines.contains { $0.hasPrefix("  #   command: \"TODO: the command that runs web\"") })
        #expect(!lines.contains("  web:"), "the placeholder must not be active")
        let stack = try StackLoader.parse(yaml: imported.yaml, file: "muster.yaml", directory: "/tmp", environment: [:])
        #expect(stack.serviceNames == ["db"])
    }

    @Test func refusesToOverwriteWithoutForce() throws {
        let directory = try Self.scratch("full")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let existing = directory + "/muster.yaml"
        try "services: { keep: { command: \"true\" } }\n".write(toFile: existing, atomically: true, encoding: .utf8)
        do {
            try StackImporter.run(input: directory + "/docker-compose.yml", output: nil, force: false)
            Issue.record("an existing muster.yaml was overwritten")
        } catch let error as MusterError {
            #expect(error.code == .usage && error.exitCode == 2)
            #expect(error.headline.contains("already exists; pass --force"))
            #expect(!error.headline.contains("\n"))
        }
        #expect(try String(contentsOfFile: existing, encoding: .utf8).contains("keep"))

        let other = directory + "/other.yaml"
        try StackImporter.run(input: directory + "/docker-compose.yml", output: other, force: false)
        #expect(throws: MusterError.self) {
            try StackImporter.run(input: directory + "/docker-compose.yml", output: other, force: false)
        }

        try StackImporter.run(input: directory + "/docker-compose.yml", output: nil, force: true)
        #expect(try String(contentsOfFile: existing, encoding: .utf8).contains("engine: postgres"))
    }

    @Test func procfileProcessesBecomeServices() throws {
        let directory = try Self.scratch("procfile")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (imported, path) = try StackImporter.run(input: directory + "/Procfile", output: nil, force: false)
        #expect(imported.services == ["web", "worker", "release", "clock"])
        let stack = try StackLoader.load(path: path, environment: ["PORT": "1"])
        let web = try #require(stack.service(named: "web"))
        #expect(
            web.command?.argv { _, _ in nil } == [
                "/bin/sh", "-c", "gunicorn shop.wsgi --bind 127.0.0.1:$PORT --workers 2",
            ],
            "$PORT is left for the shell, not interpolated at load")
        #expect(web.port == .auto)
        #expect(stack.service(named: "worker")?.command?.display == "python -m shop.worker --queue \"default high\"")
        #expect(stack.service(named: "clock")?.command?.display == "echo \"tick at $(date)\" && sleep 60")
        #expect(stack.service(named: "worker")?.port == nil)
    }

    @Test func unknownInputIsAUsageError() throws {
        #expect(throws: MusterError.self) { try StackImporter.convert(text: "just some text\n", source: "x.yml") }
        #expect(throws: MusterError.self) { try StackImporter.convert(text: "services: [a, b\n", source: "x.yml") }
        do {
            _ = try StackImporter.convert(text: "version: '3'\nimage: nginx\nports: [80]\n", source: "compose.yml")
            Issue.record("accepted a file that is neither compose nor Procfile")
        } catch let error as MusterError {
            #expect(error.code == .usage)
        }
    }

    @Test func healthcheckForms() throws {
        func probe(_ yaml: String) throws -> String? {
            try ComposeHealthcheck.probe(Yams.compose(yaml: yaml)).map { YAMLText.inline($0) }
        }
        #expect(try probe("test: [\"CMD\", \"pg_isready\", \"-U\", \"app\"]") == "{exec: [pg_isready, -U, app]}")
        #expect(
            try probe("test: [\"CMD-SHELL\", \"curl -f localhost || exit 1\"]") == "{exec: curl -f localhost || exit 1}"
        )
        #expect(
            try probe("test: redis-cli ping\ninterval: 2s\ntimeout: 500ms")
                == "{exec: redis-cli ping, interval: 2s, timeout: 500ms}")
        #expect(try probe("test: [\"NONE\"]") == nil)
        #expect(try probe("test: [\"CMD\", \"true\"]\ndisable: true") == nil)
        #expect(
            try probe("test: [\"CMD\", \"true\"]\nstart_period: 1m\nretries: 2")
                == "{exec: [\"true\"], start_timeout: 2m00s}")
    }

    @Test func dependsOnForms() throws {
        let imported = try StackImporter.convert(
            text: """
                services:
                  db: { image: "docker.io/library/postgres:15@sha256:abc" }
                  bus: { image: docker.redpanda.com/redpandadata/redpanda:v24.1.1, ports: ["19092:9092"] }
                  setup: { image: alpine, command: ["sh", "-c", "echo ok"] }
                  app:
                    build: .
                    depends_on:
                      db: { condition: service_healthy }
                      setup: { condition: service_completed_successfully, required: false }
                      bus: { condition: service_started }
                  app2: { build: ., depends_on: [setup, db] }
                """, source: "compose.yaml")
        #expect(imported.services == ["db", "bus"])
        let stack = try StackLoader.parse(
            yaml: Self.uncomment(imported.yaml, ["setup", "app", "app2"]), file: "m.yaml",
            directory: "/tmp", environment: [:])
        #expect(stack.service(named: "bus")?.engine?.implementation == .redpanda)
        #expect(stack.service(named: "bus")?.port == .fixed(19092))
        #expect(
            stack.service(named: "app")?.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } == [
                "db=ready", "setup=completed", "bus=ready",
            ])
        #expect(
            stack.service(named: "app2")?.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } == [
                "setup=started", "db=ready",
            ])
        #expect(stack.service(named: "setup")?.command?.argv { _, _ in nil } == ["sh", "-c", "echo ok"])
    }

    /// Compose one-shots (run once, and another service waits for them with
    /// service_completed_successfully) become tasks, so `muster up` waits for them.
    @Test func composeOneShotsBecomeTasks() throws {
        let imported = try StackImporter.convert(
            text: """
                services:
                  db: { image: postgres:16 }
                  migrate:
                    image: example/app:1
                    command: ["python", "migrate.py"]
                    restart: "no"
                    depends_on: { db: { condition: service_healthy } }
                  seed:
                    image: example/app:1
                    command: python seed.py
                    depends_on: { migrate: { condition: service_completed_successfully } }
                  api:
                    image: example/app:1
                    command: python api.py
                    restart: always
                    depends_on:
                      migrate: { condition: service_completed_successfully }
                      seed: { condition: service_completed_successfully }
                      db: { condition: service_completed_successfully }
                  watcher: { image: example/app:1, command: python watch.py, restart: "no" }
                  probed:
                    image: example/app:1
                    command: python probed.py
                    healthcheck: { test: ["CMD", "true"] }
                  late: { image: example/app:1, command: python late.py, depends_on: { probed: { condition: service_completed_successfully } } }
                """, source: "compose.yaml")
        let stack = try StackLoader.parse(
            yaml: Self.uncomment(imported.yaml, ["migrate", "seed", "api", "watcher", "probed", "late"]),
            file: "m.yaml", directory: "/tmp", environment: [:])
        #expect(stack.service(named: "migrate")?.task == true, "restart: no and waited for: \(imported.yaml)")
        #expect(stack.service(named: "seed")?.task == true, "no restart (compose's default is no) and waited for")
        #expect(stack.service(named: "api")?.task == false)
        #expect(stack.service(named: "watcher")?.task == false, "nothing waits for it")
        #expect(
            stack.service(named: "probed")?.task == false,
            "a task has no ready probe; it stays a task by the wait alone")
        #expect(stack.service(named: "probed").map(stack.isTask) == true)
        #expect(
            imported.yaml.contains("task: true  # runs once; others wait for it with service_completed_successfully"))
        // An engine is a server: waiting for it to complete would wait forever.
        #expect(
            stack.service(named: "api")?.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } == [
                "migrate=completed", "seed=completed", "db=ready",
            ])
    }

    /// `muster export compose` marks a task that nothing waits for with x-muster-task,
    /// which compose ignores and `muster import` reads back as task: true.
    @Test func exportedTaskImportsAsATask() throws {
        let stack = try StackLoader.parse(
            yaml: """
                services:
                  db: { engine: postgres }
                  migrate: { command: ["sh", "-c", "echo migrated"], task: true, depends_on: { db: ready } }
                  api: { command: ["sh", "-c", "sleep 100"], depends_on: { db: ready } }
                """, file: "muster.yaml", directory: "/tmp", environment: [:])
        let compose = ComposeExporter(stack: stack).render()
        #expect(compose.contains("x-muster-task: true"), "\(compose)")
        let imported = try StackImporter.convert(text: compose, source: "compose.yaml")
        let back = try StackLoader.parse(
            yaml: Self.uncomment(imported.yaml, ["migrate", "api"]), file: "m.yaml", directory: "/tmp", environment: [:]
        )
        #expect(back.service(named: "migrate")?.task == true, "\(imported.yaml)")
        #expect(back.service(named: "api")?.task == false)
    }

    @Test func postgresAndRedisDetails() throws {
        let imported = try StackImporter.convert(
            text: """
                services:
                  pg:
                    image: postgres
                    command: ["postgres", "-N", "50", "--work-mem=4MB", "-cstatement_timeout=5s"]
                    environment: ["POSTGRES_USER=svc", "POSTGRES_PASSWORD", "TZ=UTC"]
                    ports: ["127.0.0.1:15432:5432"]
                  kv:
                    image: redis:7-alpine
                    command: redis-server --requirepass hunter2 --save "" --port 6380
                """, source: "compose.yaml")
        let stack = try StackLoader.parse(
            yaml: imported.yaml, file: "m.yaml", directory: "/tmp",
            environment: ["POSTGRES_PASSWORD": "from-env"])
        let pg = try #require(stack.service(named: "pg"))
        #expect(Self.settings(pg) == ["max_connections": "50", "work_mem": "4MB", "statement_timeout": "5s"])
        #expect(
            pg.engine?.user == "svc" && pg.engine?.databases == ["svc"], "the image names the database after the user")
        #expect(pg.engine?.password == "from-env", "a bare variable passes the host's value through")
        #expect(pg.port == .fixed(15432))
        #expect(imported.yaml.contains("environment TZ"))
        let kv = try #require(stack.service(named: "kv"))
        #expect(kv.engine?.password == "hunter2")
        #expect(Self.settings(kv) == ["save": ""])
        #expect(imported.yaml.contains("--port (muster sets it)"))
    }

    @Test func engineImagesAreRecognised() {
        #expect(EngineImage.recognize("postgres:16-alpine")?.kind == .postgres)
        #expect(EngineImage.recognize("registry.example.com:5000/library/redis:7")?.kind == .redis)
        #expect(EngineImage.recognize("bitnami/kafka:3.7") == .init(kind: .kafka, implementation: .auto))
        #expect(EngineImage.recognize("confluentinc/cp-kafka:7.6.0") == .init(kind: .kafka, implementation: .auto))
        #expect(EngineImage.recognize("redpandadata/redpanda") == .init(kind: .kafka, implementation: .redpanda))
        #expect(EngineImage.recognize("postgis/postgis:16-3.4") == nil)
        #expect(EngineImage.recognize("myorg/postgres-tools") == nil)
    }

    @Test func portForms() {
        func published(_ text: String) -> String? { ComposeValues.shortPort(text).published }
        #expect(published("8000") == nil)
        #expect(published("8000:80") == "8000")
        #expect(published("127.0.0.1:8000:80/tcp") == "8000")
        #expect(published("9090-9091:8080-8081") == "9090")
        #expect(published("[::1]:6000:6000") == "6000")
        #expect(published("${API_PORT:-8000}:8000") == "${API_PORT:-8000}")
        #expect(ComposeValues.shortPort("127.0.0.1::5432").published == nil)
        #expect(ComposeValues.shortPort("127.0.0.1::5432").target == 5432)
    }

    @Test func yamlScalarsReadBackUnchanged() throws {
        let samples = [
            "yes", "No", "on", "null", "~", "", " lead", "trail ", "1.0", "0x1F", "1_000", "12:30", ".inf", "-1",
            "-", "- x", "-c", "--save", ": x", "a: b", "a #b", "#x", "@x", "`x", "'q'", "\"q\"", "a:b", "x:",
            "tab\there", "new\nline", "${db.url}", "http://127.0.0.1:8000/healthz", "é", "[x]", "{x}", "a,b", "*a",
            "&a", "!t",
        ]
        for sample in samples {
            for flow in [false, true] {
                let yaml = flow ? "k: [\(YAMLText.scalar(sample, flow: true))]\n" : "k: \(YAMLText.scalar(sample))\n"
                let node = try Yams.compose(yaml: yaml)
                let value =
                    flow
                    ? ComposeValues.strings(ComposeValues.value(node, "k"))?.first
                    : ComposeValues.string(ComposeValues.value(node, "k"))
                #expect(value == sample, "\(yaml.debugDescription)")
                // Loaded as native values, it must still be a string (not a bool, number or null).
                let loaded = (try Yams.load(yaml: yaml) as? [String: Any])?["k"]
                let typed = flow ? (loaded as? [Any])?.first : loaded
                #expect(typed as? String == sample, "\(yaml.debugDescription) loads as \(String(describing: typed))")
            }
        }
        #expect(YAMLText.scalar("app") == "app")
        #expect(YAMLText.scalar("postgresql://app:app@db:5432/app") == "postgresql://app:app@db:5432/app")
    }
}
