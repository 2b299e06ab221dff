import Foundation

/// What an engine sees when it turns a service block into a plan.
public struct EngineContext {
    public let stack: StackSpec
    public let service: ServiceSpec
    public let engine: EngineOptions
    public let port: Int
    public let paths: ProjectPaths
    public let environment: [String: String]
    public let lookup: (String, String) -> String?
    let planner: StackPlanner

    public var dataDir: String { paths.dataDir(for: service.name) }
}

/// A built-in server. Engines are data: they fill in a plan (program, arguments,
/// pre-start steps, default probes, outputs) and the supervisor runs it like any
/// other service, with no engine special cases.
public protocol Engine {
    /// Outputs published as `${service.output}` and by `muster env`.
    func outputs(service: ServiceSpec, engine: EngineOptions, port: Int) -> [String: String]
    /// Sets the program, environment, credentials, pre-start steps and default ready probe.
    func configure(_ plan: inout ServicePlan, context: EngineContext) throws
    /// The protocol-level probe for `postgres: {}` / `redis: {}` / `kafka: {...}`.
    func probe(_ spec: ProbeSpec, service: ServiceSpec, context: EngineContext) throws -> ResolvedProbe
}

public enum EngineCatalog {
    public static func engine(for kind: EngineKind) -> Engine {
        switch kind {
        case .postgres: return PostgresEngine()
        case .redis: return RedisEngine()
        case .kafka: return KafkaEngine()
        }
    }

    /// A protocol probe; on an app service (a kafka group probe) it talks to the
    /// broker the service depends on.
    static func probe(
        _ spec: ProbeSpec, service: ServiceSpec, stack: StackSpec, planner: StackPlanner,
        lookup: @escaping (String, String) -> String?
    ) throws -> ResolvedProbe {
        var target = service
        if service.engine == nil, case .kafka = spec.kind,
            let broker = StackValidator(stack: stack).brokers(for: service).first,
            let spec = stack.service(named: broker)
        {
            target = spec
        }
        guard let engine = target.engine else {
            throw MusterError(.invalidStack, "a \(spec.kind.name) probe needs an engine service", at: spec.location)
        }
        let port = Int(lookup(target.name, "port") ?? "") ?? 0
        let context = EngineContext(
            stack: stack, service: target, engine: engine, port: port, paths: planner.paths,
            environment: planner.environment, lookup: lookup, planner: planner)
        return try EngineCatalog.engine(for: engine.kind).probe(spec, service: service, context: context)
    }
}
