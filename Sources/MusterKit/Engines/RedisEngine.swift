import Foundation

/// Redis: `redis-server` by absolute path (so `DEBUG RESTART` can re-exec it), on
/// 127.0.0.1, no persistence unless settings ask for it, ready on PING → PONG.
struct RedisEngine: Engine {
    func outputs(service: ServiceSpec, engine: EngineOptions, port: Int) -> [String: String] {
        let auth = engine.password.map { ":\(percentEncoded($0))@" } ?? ""
        return ["host": "127.0.0.1", "port": String(port), "url": "redis://\(auth)127.0.0.1:\(port)/0"]
    }

    func configure(_ plan: inout ServicePlan, context: EngineContext) throws {
        let engine = context.engine
        let search = Self.locate(bin: engine.bin, environment: context.environment)
        guard let server = search.found else {
            throw MusterError(
                .environment,
                search.notFound(service: context.service.name) + ", or set bin: to its folder or to the server program",
                at: context.service.location)
        }
        let dataDir = context.dataDir
        plan.executable = server
        plan.kind = .redis
        let (monitorPort, password) = (context.port, context.engine.password)
        plan.monitors.append { RedisMonitor(port: monitorPort, password: password) }
        var argv = [
            server, "--port", String(context.port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--dir", dataDir, "--save", "", "--appendonly", "no", "--protected-mode", "yes",
        ]
        if let password = engine.password { argv += ["--requirepass", password] }
        for (key, value) in engine.settings { argv += ["--" + key] + (value.isEmpty ? [""] : [value]) }
        plan.argv = argv
        plan.workingDir = dataDir
        // SIGTERM only sets a flag that Redis reads at its next cron tick (every
        // 100 ms at the default hz); SHUTDOWN acts at once, with the same saving rules.
        // A stop_signal of the user's own choosing is sent as it is.
        if context.service.stopSignal == SIGTERM {
            plan.stopCommand = StopCommand(name: "SHUTDOWN") { limit in
                await Self.shutdown(port: monitorPort, password: password, limit: limit)
            }
        }
        plan.preStart.append { _ in
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        }
        plan.ready = try probe(.readyDefaults(.redis), service: context.service, context: context)
    }

    /// Sends SHUTDOWN and waits at most `limit` for what Redis does with it: it closes
    /// the connection as it exits, and answers an error when it refuses.
    static func shutdown(port: Int, password: String?, limit: Duration) async -> StopCommand.Outcome {
        await offload {
            guard
                let client = try? RESPClient(
                    host: "127.0.0.1", port: port, timeout: .milliseconds(500), password: password)
            else {
                return .refused
            }
            do {
                if case .error = try client.command(["SHUTDOWN"], within: limit) { return .refused }
                return .ignored
            } catch let error as ProtocolError where error.problem == .closed {
                return .closed
            } catch {
                return .ignored
            }
        }
    }

    func probe(_ spec: ProbeSpec, service: ServiceSpec, context: EngineContext) throws -> ResolvedProbe {
        .polling(RedisProbe(port: context.port, password: context.engine.password, timeout: spec.timeout), spec)
    }
}

/// PING → PONG; the identity is `INFO server`'s `run_id`, new on every (re)start.
struct RedisProbe: PollingProbe {
    var port: Int
    var password: String?
    var timeout: Duration

    func check() async -> ProbeOutcome {
        let (port, password, timeout) = (port, password, timeout)
        return await offload {
            do {
                let client = try RESPClient(
                    host: "127.0.0.1", port: port, timeout: timeout, password: password, total: timeout)
                let pong = try client.command(["PING"])
                guard pong == .simple("PONG") else { return .failed("redis: PING answered \(pong)") }
                if case let .bulk(info?) = try client.command(["INFO", "server"]) {
                    return .passed(identity: RESPClient.infoField("run_id", in: info))
                }
                return .passed(identity: nil)
            } catch {
                return .failed("\(error)")
            }
        }
    }
}

/// Finds a server program: the stack's `bin:` folder, then PATH, then known folders.
func percentEncoded(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
}
