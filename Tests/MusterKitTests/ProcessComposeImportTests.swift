import Foundation
import Testing
import Yams
@testable import MusterKit

/// `muster import process-compose.yaml`: processes become services that run as
/// written, servers run by hand become engines, and every key muster has no equal
/// for comes through as a comment. Each fixture's stack passes the real loader
/// and validator (what `muster check` runs).
@Suite struct ProcessComposeImportTests {
    static func importFixture(_ name: String, environment: [String: String] = ["PATH": "/usr/bin:/bin"])
        throws -> (imported: ImportedStack, stack: StackSpec, directory: String)
    {
        let directory = try ImportTests.scratch("process-compose/" + name)
        let imported = try StackImporter.convert(path: directory + "/process-compose.yaml", environment: environment)
        try imported.yaml.write(toFile: directory + "/muster.yaml", atomically: true, encoding: .utf8)
        let stack = try StackLoader.load(path: directory + "/muster.yaml", environment: environment)
        return (imported, stack, directory)
    }

    static func argv(_ service: ServiceSpec?) -> [String]? {
        service?.command?.argv { _, _ in nil }
    }

    static func dependencies(_ service: ServiceSpec?) -> [String] {
        service?.dependsOn.map { "\($0.service)=\($0.condition.rawValue)" } ?? []
    }

    static func probe(_ spec: ProbeSpec?) -> String? {
        spec.map { $0.kind.display }
    }

    @Test func showcaseMapsEveryField() throws {
        let (imported, stack, directory) = try Self.importFixture("showcase")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(
            stack.serviceNames == [
                "listing", "seed", "worker", "web", "poller", "replicated", "calculator", "tail-log",
            ])
        let env = Dictionary(stack.env.map { ($0.key, $0.value.description) }, uniquingKeysWith: { $1 })
        #expect(
            env["APP_ENV"] == "dev" && env["GREETING"] == "hello from nobody",
            "the global environment is for every service")

        let listing = stack.service(named: "listing")
        #expect(
            Self.argv(listing) == ["bash", "-c", "ls -lFa --color=always"],
            "run by the file's shell, as process-compose runs it")
        #expect(listing?.workingDir == "/")

        let worker = try #require(stack.service(named: "worker"))
        #expect(worker.restart == .onFailure && worker.maxRestarts == 4)
        #expect(worker.stopSignal == SIGTERM && worker.stopTimeout == .seconds(4))
        #expect(Self.dependencies(worker) == ["seed=completed", "listing=completed"])
        #expect(worker.env.map(\.key) == ["EXIT_CODE", "QUEUE"])
        #expect(imported.yaml.contains("shutdown.command `sleep 1 && pkill -f worker-loop` has no muster equal"))
        #expect(imported.yaml.contains("process-compose: process_completed (any exit code)"))
        #expect(imported.yaml.contains("availability.backoff_seconds 2"))

        let web = try #require(stack.service(named: "web"))
        #expect(
            Self.argv(web) == ["bash", "-c", "python3 -m http.server 18321 --bind 127.0.0.1"],
            "{{.HTTP_PORT}} is expanded from vars")
        #expect(Self.probe(web.ready) == "http http://127.0.0.1:18321/")
        #expect(web.ready?.interval == .seconds(2) && web.ready?.timeout == .seconds(1))
        guard case let .exec(alive)? = web.alive?.kind else { Issue.record("not an exec probe"); return }
        #expect(
            alive.argv { _, _ in nil } == ["bash", "-c", "cd /tmp && curl -fsS http://127.0.0.1:18321/ > /dev/null"],
            "the probe's working_dir becomes a cd")
        #expect(web.alive?.interval == .seconds(5) && web.alive?.failures == 2)
        #expect(web.stopSignal == SIGINT, "signal 2 is SIGINT")
        #expect(imported.yaml.contains("is_tty: true: muster gives services no terminal"))

        #expect(Self.dependencies(stack.service(named: "poller")) == ["web=ready"])
        #expect(imported.yaml.contains("namespace: probes: muster has no namespaces"))
        #expect(
            Self.argv(stack.service(named: "replicated"))?.last == "echo replica 0 of echoer && sleep 3600",
            "process vars and PC_REPLICA_NUM are expanded")
        #expect(imported.yaml.contains("replicas: 3: muster runs one instance"))
        #expect(stack.service(named: "calculator")?.profiles == ["disabled"], "disabled: starts only when asked")
        #expect(stack.service(named: "tail-log")?.workingDir == "/tmp")
        for key in ["log_location", "log_level", "log_length", "log_configuration", "disable_ansi_colors"] {
            #expect(
                imported.yaml.contains("# Not carried over: \(key)") || imported.yaml.contains("\(key): "),
                "\(key) is named")
        }
    }

    /// Processes others wait for with process_completed_successfully are tasks; a
    /// process_completed wait (any exit code) or a process with probes does not make one.
    @Test func oneShotsBecomeTasks() throws {
        let (imported, stack, directory) = try Self.importFixture("showcase")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(stack.service(named: "seed")?.task == true, "\(imported.yaml)")
        #expect(
            stack.service(named: "listing")?.task == false, "worker waits with process_completed: any exit code will do"
        )
        #expect(stack.service(named: "worker")?.task == false)
        #expect(stack.service(named: "web")?.task == false)
        #expect(imported.yaml.contains("task: true  # runs once; others wait for it to complete"))
        let (_, pg, pgDirectory) = try Self.importFixture("pg-daemon")
        defer { try? FileManager.default.removeItem(atPath: pgDirectory) }
        #expect(pg.service(named: "migrate")?.task == true)
        #expect(pg.service(named: "api")?.task == false)
    }

    @Test func pgCtlDaemonBecomesAnEngine() throws {
        let (imported, stack, directory) = try Self.importFixture("pg-daemon")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(stack.serviceNames == ["Postgres", "migrate", "api"], "init-db is dropped: the engine runs initdb")
        let postgres = try #require(stack.service(named: "Postgres"))
        #expect(postgres.engine?.kind == .postgres)
        #expect(postgres.port == .fixed(5433), "pg_ctl -o \"-p 5433\" keeps its port")
        #expect(ImportTests.settings(postgres) == ["max_connections": "300", "shared_buffers": "64MB"])
        #expect(postgres.dependsOn.isEmpty, "its init-db dependency was the engine's own job")
        #expect(Self.dependencies(stack.service(named: "migrate")) == ["Postgres=ready"])
        let api = try #require(stack.service(named: "api"))
        #expect(Self.dependencies(api) == ["migrate=completed", "Postgres=ready"])
        #expect(
            Self.probe(api.ready) == "http http://127.0.0.1:8080/healthz",
            "host, scheme and the path's slash default as process-compose's do")
        #expect(api.workingDir == directory, "a working_dir that does not exist here is left as a comment")
        #expect(imported.yaml.contains("working_dir ./services/api does not exist here"))
        #expect(imported.yaml.contains("exit_on_failure: muster does not stop the stack"))
        #expect(
            imported.yaml.contains(
                "shutdown (command `pg_ctl -D work/db stop`) dropped: muster stops its engines itself"))
        #expect(
            !imported.yaml.contains("stop_timeout") && !imported.yaml.contains("stop_signal"),
            "an engine's shutdown is muster's own")
        #expect(
            Self.argv(stack.service(named: "migrate"))?.last == "echo migrating against $PGHOST:5433",
            "a variable the file's environment sets is left to the shell")
        #expect(imported.warnings.isEmpty, "\(imported.warnings)")
        #expect(imported.yaml.contains("is_daemon (muster runs the server in the foreground)"))
        #expect(imported.yaml.contains("# init-db: not carried over: it runs initdb"))
    }

    @Test func serversRunByHandBecomeEnginesWithTheirFlags() throws {
        let (imported, stack, directory) = try Self.importFixture("native-servers")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(stack.serviceNames == ["postgres", "cache", "sessions", "broker", "events", "app"])
        let postgres = try #require(stack.service(named: "postgres"))
        #expect(postgres.engine?.kind == .postgres && postgres.port == .auto)
        #expect(ImportTests.settings(postgres) == ["max_connections": "300", "fsync": "off", "work_mem": "8MB"])
        #expect(imported.yaml.contains("-D ./data/pg (muster keeps its own data folder)"))
        let cache = try #require(stack.service(named: "cache"))
        #expect(cache.engine?.kind == .redis && cache.port == .fixed(6380), "--port 6380 is kept")
        #expect(ImportTests.settings(cache) == ["maxmemory": "64mb", "maxmemory-policy": "allkeys-lru", "save": ""])
        #expect(stack.service(named: "sessions")?.engine?.kind == .redis, "valkey-server speaks Redis")
        #expect(imported.yaml.contains("valkey-server is not installed here: muster runs redis-server"))
        let broker = try #require(stack.service(named: "broker"))
        #expect(broker.engine?.kind == .kafka && broker.engine?.implementation == .apache)
        #expect(ImportTests.settings(broker) == ["num.partitions": "3"])
        #expect(imported.yaml.contains("--override listeners (muster sets it)"))
        let events = try #require(stack.service(named: "events"))
        #expect(events.engine?.implementation == .tansu && events.profiles == ["disabled"])
        let app = try #require(stack.service(named: "app"))
        #expect(Self.argv(app)?.last == "bundle exec puma -p 3000")
        #expect(
            Self.dependencies(app) == ["postgres=ready", "cache=ready", "broker=ready"],
            "process_started on an engine waits until it is ready")
    }

    @Test func valkeyServerIsRunWhenInstalled() throws {
        let bin = NSTemporaryDirectory() + "muster-valkey-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        _ = FileManager.default.createFile(
            atPath: bin + "/valkey-server", contents: Data("#!/bin/sh\n".utf8),
            attributes: [.posixPermissions: 0o755])
        let (imported, stack, directory) = try Self.importFixture(
            "native-servers", environment: ["PATH": bin + ":/usr/bin:/bin"])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(stack.service(named: "sessions")?.engine?.bin == bin + "/valkey-server")
        #expect(imported.yaml.contains("valkey-server is installed here: muster runs it"))
    }

    @Test func logLinesUnknownKeysAndVersionsAreKept() throws {
        let (imported, stack, directory) = try Self.importFixture("log-ready")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(imported.yaml.contains("version \"0.9\" is not one this import knows"))
        #expect(
            imported.yaml.contains("# Not carried over: telemetry: {enabled: false} (a key this import does not know"))
        let server = try #require(stack.service(named: "server"))
        guard case let .log(pattern)? = server.ready?.kind else {
            Issue.record("not a log probe: \(String(describing: server.ready))"); return
        }
        #expect(pattern == "ready to accept connections")
        #expect(
            imported.yaml.contains(
                "availability.exit_on_end: true not carried over (to stop everything when a command ends"))
        let client = try #require(stack.service(named: "client"))
        #expect(Self.dependencies(client) == ["server=ready"])
        #expect(imported.yaml.contains("process_log_ready (its ready_log_line is its ready: probe)"))
        #expect(Self.probe(client.alive) == "http https://localhost:18322/live")
        #expect(imported.yaml.contains("status_code 204") && imported.yaml.contains("headers not carried over"))
        #expect(imported.yaml.contains("success_threshold 2") && imported.yaml.contains("initial_delay_seconds 3"))
        #expect(imported.yaml.contains("schedule: {cron: */5 * * * *}: not a key this import knows"))
        let cleanup = try #require(stack.service(named: "cleanup"))
        #expect(Self.dependencies(cleanup) == ["client=completed"])
        #expect(imported.yaml.contains("depends_on missing not carried over"))
        #expect(imported.yaml.contains("shutdown.signal 99 is not a signal muster sends"))
        #expect(imported.yaml.contains("is_foreground: true: run it yourself"))
        #expect(imported.yaml.contains("watch: [{path: ./src}]: not a key this import knows"))
    }

    /// No key of any fixture is dropped without a word: each one the conversion
    /// does not map appears in the output, as a key or in a comment.
    @Test(arguments: ["showcase", "pg-daemon", "native-servers", "log-ready", "up"])
    func noKeyIsDroppedSilently(fixture: String) throws {
        let (imported, _, directory) = try Self.importFixture(fixture)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = try #require(
            try Yams.compose(yaml: String(contentsOfFile: directory + "/process-compose.yaml", encoding: .utf8)))
        for key in ComposeValues.pairs(root).map(\.key)
        where !["processes", "environment", "vars", "shell", "version"].contains(key) {
            #expect(imported.yaml.contains(key), "top-level \(key) of \(fixture)")
        }
        for (name, process) in ComposeValues.pairs(ComposeValues.value(root, "processes")) {
            for key in ComposeValues.pairs(process).map(\.key)
            where !ProcessComposeImporter.processHandled.contains(key) {
                #expect(
                    imported.yaml.contains(key + ":") || imported.yaml.contains(key + " ("),
                    "\(fixture): \(name).\(key)")
            }
        }
    }

    @Test func enginesAreJudgedByTheCommand() {
        #expect(CommandEngine.recognize("initdb -D data && postgres -D data -c fsync=off")?.kind == .postgres)
        #expect(CommandEngine.recognize("FOO=1 exec /usr/bin/redis-server --port 7000")?.kind == .redis)
        #expect(
            CommandEngine.recognize("/opt/kafka/bin/kafka-server-start.sh config/server.properties")?.implementation
                == .apache)
        #expect(CommandEngine.recognize("rpk redpanda start --overprovisioned")?.implementation == .redpanda)
        #expect(CommandEngine.recognize("env -i tansu broker")?.implementation == .tansu)
        #expect(CommandEngine.recognize("echo postgres is great") == nil, "a word in the arguments is not the program")
        #expect(CommandEngine.recognize("pg_ctl -D data stop") == nil)
        #expect(CommandEngine.recognize("./run-postgres-tests.sh") == nil)
        #expect(CommandEngine.isPostgresSetup("mkdir -p data; initdb -D data"))
        #expect(!CommandEngine.isPostgresSetup("initdb -D data && ./seed.sh"))
        #expect(VariableCheck.names(in: "${A} $B ${C:-x} ${D-y} $$E ${db.url} ${F:?need it} $1") == ["A", "B", "F"])
    }

    @Test func notYAMLIsOneLineWithItsPlace() throws {
        for text in [
            "processes:\n  web:\n    command: [\"unclosed\n", "processes:\n\tweb:\n    command: x\n",
            "version: \"0.5\"\nprocesses: {web: {command: x}\n",
        ] {
            do {
                _ = try StackImporter.convert(text: text, source: "process-compose.yaml")
                Issue.record("accepted \(text.debugDescription)")
            } catch let error as MusterError {
                #expect(error.exitCode == 2)
                #expect(!error.headline.contains("\n") && error.details.isEmpty, "\(error)")
                #expect(
                    error.headline.range(of: #"^process-compose\.yaml:\d+:\d+: YAML"#, options: .regularExpression)
                        != nil, "\(error.headline)")
            }
        }
        #expect(throws: MusterError.self) {
            try StackImporter.convert(text: "processes: {}\n", source: "process-compose.yaml")
        }
        #expect {
            try StackImporter.convert(text: "processes:\n  - web\n", source: "process-compose.yaml")
        } throws: { error in
            (error as? MusterError)?.headline
                == "process-compose.yaml: processes: must be a mapping of NAME: {command: ...}, as process-compose reads it"
        }
    }
}
