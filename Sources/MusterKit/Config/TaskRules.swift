import Foundation
import Yams

/// What a task (`task: true`, or a service another one waits for with `completed`)
/// may not be: it runs once and is ready when it exits 0, so a restart policy that
/// runs it again forever, a ready or alive probe, or a server that never exits make
/// no sense. Each is refused where it is written.
extension ServiceParser {
    func checkTask(_ service: ServiceSpec, pairs: [(key: String, keyNode: Node, value: Node)]) throws {
        guard service.task, let taskPair = pairs.first(where: { $0.key == "task" }) else { return }
        let what = "service \(service.name)"
        if service.engine != nil {
            throw reader.fail(
                "\(what): task: true does not apply to an engine service (a server runs until it is stopped); remove task:",
                taskPair.keyNode)
        }
        if service.restart == .always, let restart = pairs.first(where: { $0.key == "restart" }) {
            throw reader.fail(
                "\(what): task: true cannot go with restart: always (a task runs once; always would start it again every time it exits); use restart: on-failure to retry it until it succeeds, or remove restart:",
                restart.value)
        }
        if let ready = pairs.first(where: { $0.key == "ready" }) {
            throw reader.fail(
                "\(what): task: true cannot have a ready: probe (a task is ready when it completes with exit code 0); remove ready:",
                ready.keyNode)
        }
        if let alive = pairs.first(where: { $0.key == "alive" }) {
            throw reader.fail(
                "\(what): task: true cannot have an alive: probe (a task is not watched: it runs once and ends); remove alive:",
                alive.keyNode)
        }
    }
}

extension StackValidator {
    /// A `completed` dependency on something that never completes would wait forever.
    func checkCompletionWaits() throws {
        for service in stack.services {
            if let snapshot = service.engine?.snapshot, let task = stack.service(named: snapshot.after),
                task.restart == .always
            {
                throw MusterError.invalid(
                    "service \(service.name): snapshot after \(task.name), which has restart: always and so never completes; give \(task.name) restart: on-failure or no",
                    at: snapshot.location)
            }
            for dependency in service.dependsOn where dependency.condition == .completed {
                guard let target = stack.service(named: dependency.service) else { continue }
                if target.engine != nil {
                    throw MusterError.invalid(
                        "service \(service.name) waits for \(target.name) to complete, but \(target.name) is an engine service (a server) and never completes; wait for it to be ready",
                        at: dependency.location)
                }
                if target.restart == .always {
                    throw MusterError.invalid(
                        "service \(service.name) waits for \(target.name) to complete, but \(target.name) has restart: always and so never completes; give \(target.name) restart: on-failure or no (it is a task), or wait for it to be ready",
                        at: dependency.location)
                }
            }
        }
    }
}

extension StackSpec {
    /// A service that runs once and must exit 0: `task: true`, one another service
    /// waits for with `completed`, or one a Postgres snapshot is taken after.
    public func isTask(_ service: ServiceSpec) -> Bool {
        service.task
            || services.contains { other in
                other.dependsOn.contains { $0.service == service.name && $0.condition == .completed }
            }
            || services.contains { $0.engine?.snapshot?.after == service.name }
    }
}
