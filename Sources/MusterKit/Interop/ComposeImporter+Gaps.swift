import Foundation
import Yams

/// What real compose files need beyond images muster maps one to one: ZooKeeper
/// (which muster's Kafka does without), Redis-protocol images other than `redis`
/// (Valkey, Redis Stack), and variables that have neither a value nor a default.
extension ComposeImporter {
    func isZookeeper(_ composeName: String) -> Bool {
        guard let service = composeServices.first(where: { $0.key == composeName })?.value,
            let image = ComposeValues.string(ComposeValues.value(service, "image"))
        else { return false }
        return EngineImage.isZookeeper(image)
    }

    /// The first Kafka engine of the file, which ZooKeeper's dependents wait for instead.
    func broker() -> (key: String, value: Node)? {
        composeServices.first { _, service in
            ComposeValues.string(ComposeValues.value(service, "image")).flatMap(EngineImage.recognize)?.kind == .kafka
        }
    }

    /// The comment lines that replace a ZooKeeper service, or nil for any other service.
    func zookeeperNote(_ composeName: String, service: Node) -> [String]? {
        guard isZookeeper(composeName) else { return nil }
        let image = ComposeValues.string(ComposeValues.value(service, "image")) ?? ""
        var lines = [
            "  # \(Self.musterName(composeName)): dropped (image \(image)): muster's Kafka runs in KRaft mode (or is"
        ]
        lines.append("  # Redpanda or Tansu) and needs no ZooKeeper.")
        if let broker = broker() {
            lines.append("  # Services that depended on it wait for \(Self.musterName(broker.key)) instead.")
        } else {
            lines.append(
                "  # No Kafka service here uses it: if something else needs ZooKeeper, add it as a service by hand.")
        }
        return lines
    }

    /// For Valkey and Redis Stack images: which server muster will run, and `bin:`
    /// when Valkey is installed here.
    func redisServer(image: String) -> (pairs: [YAMLPair], notes: [String]) {
        let repository = EngineImage.repository(of: image)
        if repository.contains("valkey") {
            let path =
                environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            if let found = ProgramLocator.find(
                "valkey-server", workingDir: "/", path: path + ":/usr/sbin:/usr/local/sbin")
            {
                return (
                    [YAMLPair("bin", .string(found), trailing: "valkey-server is installed here: muster runs it")], []
                )
            }
            return (
                [],
                [
                    "valkey-server is not installed here: muster runs redis-server, which speaks the same protocol and "
                        + "takes the same flags; install Valkey and set bin: to valkey-server's path to run Valkey itself"
                ]
            )
        }
        if repository.hasPrefix("redis/redis-stack") {
            return (
                [],
                [
                    "Redis Stack's modules (search, JSON, time series) are not loaded: muster runs plain redis-server; "
                        + "add loadmodule to settings if the app needs them"
                ]
            )
        }
        return ([], [])
    }

    /// One warning per variable used without a value or default, naming where.
    func unsetVariables() -> [String] {
        var known = environment
        if !directory.isEmpty {
            for (key, value) in VariableCheck.dotEnv(in: directory) where known[key] == nil { known[key] = value }
        }
        var uses = VariableCheck.unset(in: ComposeValues.value(root, "name"), place: "name", known: known)
        for (name, service) in composeServices {
            uses += VariableCheck.unset(in: service, place: "\(name): ", known: known)
        }
        return VariableCheck.warnings(uses)
    }
}
