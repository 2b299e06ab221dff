import Foundation
import Testing
import Yams
@testable import MusterKit

/// `muster export compose|kubernetes`: the output is checked offline against the
/// compose-spec JSON schema (jsonschema) and the Kubernetes API schemas
/// (kubernetes-validate --strict), both run by the project venv's Python.
@Suite struct ExportTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var python: String { ProcessInfo.processInfo.environment["MUSTER_PYTHON"] ?? root + "/.venv/bin/python" }

    static let composeCheck = """
        import json, sys, yaml, jsonschema
        schema = json.load(open(sys.argv[1]))
        document = yaml.safe_load(open(sys.argv[2]))
        errors = list(jsonschema.Draft7Validator(schema).iter_errors(document))
        for error in errors:
            print("/".join(str(p) for p in error.absolute_path), error.message[:300])
        sys.exit(1 if errors else 0)
        """

    /// Runs the venv's Python on `arguments`; the status and the output.
    static func python(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try #require(
            FileManager.default.isExecutableFile(atPath: python),
            "no venv Python at \(python); run scripts/lib/python-env.sh")
        let path = NSTemporaryDirectory() + "muster-export-\(UInt32.random(in: 0...UInt32.max)).out"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        defer { unlink(path) }
        var request = SpawnRequest(
            executable: python, arguments: [python] + arguments,
            environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" })
        request.outputFD = fd
        request.parentDeathSignal = 0
        let pid = try await ProcessSpawner.shared.spawn(request)
        close(fd)
        let status = await ProcessReaper.shared.exitStatus(of: pid)
        ProcessReaper.shared.forget(pid)
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        if case let .exited(code) = status { return (code, output) }
        return (-1, output)
    }

    static func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "muster-export-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Compose output against the vendored compose-spec schema: (valid, errors).
    static func validateCompose(_ text: String) async throws -> (Bool, String) {
        let file = try write(text)
        defer { unlink(file) }
        let result = try await python(["-c", composeCheck, root + "/Tests/Fixtures/interop/compose-spec.json", file])
        try #require(!result.output.contains("ModuleNotFoundError"), "install the test requirements: \(result.output)")
        return (result.status == 0, result.output)
    }

    /// Kubernetes output with kubernetes-validate's bundled schemas, rejecting unknown fields.
    static func validateKubernetes(_ text: String) async throws -> (Bool, String) {
        let file = try write(text)
        defer { unlink(file) }
        let result = try await python(["-m", "kubernetes_validate", "--strict", "--quiet", file])
        try #require(!result.output.contains("No module named"), "install the test requirements: \(result.output)")
        return (result.status == 0 && !result.output.contains("ERROR"), result.output)
    }

    static func defaultStack() throws -> StackSpec {
        try StackLoader.load(path: root + "/stacks/default.yaml")
    }

    static func tree(_ yaml: String) throws -> [String: Any] {
        try #require(try Yams.load(yaml: yaml) as? [String: Any])
    }

    @Test func defaultStackComposeValidates() async throws {
        let text = ComposeExporter(stack: try Self.defaultStack()).render()
        let (valid, errors) = try await Self.validateCompose(text)
        #expect(valid, "compose-spec schema: \(errors)\n\(text)")

        let services = try #require(try Self.tree(text)["services"] as? [String: [String: Any]])
        let db = try #require(services["db"])
        #expect(db["image"] as? String == "postgres:15")
        #expect(db["command"] as? [String] == ["postgres", "-c", "max_connections=200"])
        #expect(
            db["environment"] as? [String: String] == [
                "POSTGRES_USER": "app", "POSTGRES_PASSWORD": "app", "POSTGRES_DB": "app",
            ])
        let configs = try #require(try Self.tree(text)["configs"] as? [String: [String: String]])
        #expect(configs["db-initdb"]?["content"]?.contains("CREATE DATABASE \"app_test\" OWNER \"app\";") == true)
        #expect(services["cache"]?["image"] as? String == "redis:7")
        let bus = try #require(services["bus"])
        #expect(bus["image"] as? String == "apache/kafka:latest")
        let kafkaEnv = try #require(bus["environment"] as? [String: String])
        #expect(kafkaEnv["KAFKA_PROCESS_ROLES"] == "broker,controller")
        #expect(kafkaEnv["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://bus:9092")
        #expect(kafkaEnv["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093")
        let topics = try #require(services["bus-topics"]?["entrypoint"] as? [String])
        #expect(topics.last?.contains("--topic notifications --partitions 3") == true)

        let api = try #require(services["api"])
        #expect(api["image"] as? String == "api:latest")
        let apiEnv = try #require(api["environment"] as? [String: String])
        #expect(apiEnv["DATABASE_URL"] == "postgresql://app:app@db:5432/app")
        #expect(apiEnv["REDIS_URL"] == "redis://cache:6379/0")
        let depends = try #require(api["depends_on"] as? [String: [String: String]])
        #expect(depends["migrate"]?["condition"] == "service_completed_successfully")
        #expect(depends["cache"]?["condition"] == "service_healthy")
        let notifier = try #require(services["notifier"]?["depends_on"] as? [String: [String: String]])
        #expect(notifier["bus-topics"]?["condition"] == "service_completed_successfully")
        #expect(services["migrate"]?["restart"] as? String == "no")
        #expect(text.contains("# TODO image for api"))
    }

    @Test func defaultStackKubernetesValidates() async throws {
        let text = KubernetesExporter(stack: try Self.defaultStack()).render()
        let (valid, errors) = try await Self.validateKubernetes(text)
        #expect(valid, "kubernetes-validate: \(errors)\n\(text)")

        let documents = try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }
        func object(_ kind: String, _ name: String) -> [String: Any]? {
            documents.first {
                $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name
            }
        }
        func pod(_ object: [String: Any]?) -> [String: Any]? {
            ((object?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]
        }
        #expect(object("ConfigMap", "db-initdb") != nil)
        let db = try #require((pod(object("Deployment", "db"))?["containers"] as? [[String: Any]])?.first)
        #expect(db["args"] as? [String] == ["postgres", "-c", "max_connections=200"])
        #expect(
            (db["volumeMounts"] as? [[String: Any]])?.first?["mountPath"] as? String == "/docker-entrypoint-initdb.d")
        #expect(
            object("Service", "db") != nil && object("Service", "api") != nil && object("Service", "notifier") == nil)
        #expect(object("Job", "migrate") != nil, "a task runs once, as a Job")
        #expect(object("Job", "bus-topics") != nil)
        let waits = (pod(object("Deployment", "api"))?["initContainers"] as? [[String: Any]])?.compactMap {
            $0["name"] as? String
        }
        #expect(waits == ["wait-migrate", "wait-cache"])
        let notifierWaits = (pod(object("Deployment", "notifier"))?["initContainers"] as? [[String: Any]])?.compactMap {
            $0["name"] as? String
        }
        #expect(notifierWaits == ["wait-bus", "wait-bus-topics", "wait-cache"])
        let api = try #require((pod(object("Deployment", "api"))?["containers"] as? [[String: Any]])?.first)
        let env = Dictionary(
            ((api["env"] as? [[String: String]]) ?? []).map { ($0["name"] ?? "", $0["value"] ?? "") },
            uniquingKeysWith: { $1 })
        #expect(env["DATABASE_URL"] == "postgresql://app:app@db:5432/app")
        let readiness = try #require(api["readinessProbe"] as? [String: Any])
        #expect((readiness["httpGet"] as? [String: Any])?["port"] as? Int == 8080)
        #expect(object("ServiceAccount", "muster-job-waiter") != nil)
    }

    /// Fixed ports, every probe kind, a password, odd names and `$` in values.
    static let varied = """
        name: Varied_Stack
        services:
          Main_DB:
            engine: postgres
            port: 5544
            settings: { statement_timeout: 30s }
            databases: [one, two, three]
          kv:
            engine: redis
            password: "p@ss w'rd"
            settings: { maxmemory: 64mb }
          bus:
            engine: kafka
            port: 9093
            implementation: redpanda
            settings: { log.retention.hours: "1" }
            topics: [events]
          web:
            command: "exec python3 -m http.server $$PORT"
            port: 8000
            env: { DB: "${Main_DB.url}", CACHE: "${kv.url}", PRICE: "$$5 and $$(not a var)" }
            depends_on: { Main_DB: ready, kv: started, bus: ready }
            ready: { tcp: "127.0.0.1:8000", interval: 2s, timeout: 3s }
            alive: { http: "http://localhost:8000/health?deep=1", interval: 5s, failures: 4 }
            stop_signal: SIGINT
            stop_timeout: 30s
          logger:
            command: ["sh", "-c", "echo up; sleep 1000"]
            ready: { log: "up" }
            restart: always
          checker:
            command: "true"
            depends_on: { logger: ready, web: completed, seed: ready }
            alive: { exec: "test -f /tmp/ok" }
          seed:
            command: ["sh", "-c", "echo seeded"]
            task: true
            depends_on: { Main_DB: ready }
        """

    @Test func variedStackValidatesInBothWorlds() async throws {
        let stack = try StackLoader.parse(yaml: Self.varied, file: "varied.yaml", directory: "/tmp", environment: [:])
        let compose = ComposeExporter(stack: stack).render()
        let (composeValid, composeErrors) = try await Self.validateCompose(compose)
        #expect(composeValid, "compose-spec schema: \(composeErrors)\n\(compose)")
        let services = try #require(try Self.tree(compose)["services"] as? [String: [String: Any]])
        #expect(try Self.tree(compose)["name"] as? String == "varied_stack")
        #expect(services["Main_DB"]?["ports"] as? [String] == ["5544:5432"])
        #expect(services["bus"]?["ports"] as? [String] == ["9093:29092"])
        #expect((services["bus"]?["environment"] as? [String: String])?["KAFKA_LOG_RETENTION_HOURS"] == "1")
        #expect(
            (services["web"]?["environment"] as? [String: String])?["PRICE"] == "$$5 and $$(not a var)",
            "compose would interpolate a single $")
        #expect(
            (services["web"]?["environment"] as? [String: String])?["DB"] == "postgresql://postgres@Main_DB:5432/one")
        #expect(
            (services["web"]?["environment"] as? [String: String])?["CACHE"] == "redis://:p%40ss%20w%27rd@kv:6379/0")
        #expect(services["web"]?["stop_signal"] as? String == "SIGINT")
        #expect(compose.contains("no healthcheck: a log probe (/up/) has no compose form"))
        #expect(
            ((services["checker"]?["depends_on"] as? [String: [String: String]])?["logger"])?["condition"]
                == "service_started")
        #expect(services["seed"]?["x-muster-task"] as? Bool == true && services["seed"]?["restart"] as? String == "no")
        #expect(
            ((services["checker"]?["depends_on"] as? [String: [String: String]])?["seed"])?["condition"]
                == "service_completed_successfully",
            "a task is ready when it completes")

        let kubernetes = KubernetesExporter(stack: stack).render()
        let (kubernetesValid, kubernetesErrors) = try await Self.validateKubernetes(kubernetes)
        #expect(kubernetesValid, "kubernetes-validate: \(kubernetesErrors)\n\(kubernetes)")
        #expect(kubernetes.contains("name: main-db\n"), "Kubernetes names are DNS labels")
        #expect(kubernetes.contains("value: postgresql://postgres@main-db:5432/one"))
        #expect(kubernetes.contains("value: $$5 and $$(not a var)"), "Kubernetes would expand $(VAR) and fold $$")
        #expect(kubernetes.contains("tcpSocket:") && kubernetes.contains("path: /health?deep=1"))
        #expect(kubernetes.contains("kind: Job\nmetadata:\n  name: seed\n"), "a task is a Job")
        #expect(kubernetes.contains("job/seed"), "checker waits for the seed Job to complete")
    }

    /// The validators must reject what is wrong, or a pass means nothing.
    @Test func validatorsRejectBrokenOutput() async throws {
        let (composeValid, _) = try await Self.validateCompose("services:\n  x:\n    image: a\n    bogus_key: 1\n")
        #expect(!composeValid)
        let (kubernetesValid, _) = try await Self.validateKubernetes(
            """
            apiVersion: v1
            kind: Service
            metadata: { name: x }
            spec: { ports: [{ port: 80, bogusField: 1 }] }
            """)
        #expect(!kubernetesValid)
    }
}
