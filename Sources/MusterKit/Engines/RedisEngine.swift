import Foundation

struct RedisEngine: Engine {
    func outputs(service: ServiceSpec, engine: EngineOptions, port: Int) -> [String: String] {
        ["host": "127.0.0.1", "port": String(port)]
    }

    func configure(_ plan: inout ServicePlan, context: EngineContext) throws {
        throw MusterError(.invalidStack, "engine Redis is not built yet", at: context.service.location)
    }

    func probe(_ spec: ProbeSpec, service: ServiceSpec, context: EngineContext) throws -> ResolvedProbe {
        throw MusterError(.invalidStack, "engine Redis is not built yet", at: spec.location)
    }
}
