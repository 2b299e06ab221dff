/// Recognises the container images muster can replace with a native engine.
/// Registry hosts, `library/`, tags and digests are ignored, so
/// `docker.io/library/postgres:16-alpine` and `postgres@sha256:…` both count.
enum EngineImage {
    struct Match: Equatable {
        var kind: EngineKind
        var implementation: KafkaImplementation
    }

    static let kafkaRepositories: Set<String> = [
        "apache/kafka", "apache/kafka-native", "bitnami/kafka", "confluentinc/cp-kafka", "confluentinc/cp-server",
        "wurstmeister/kafka",
    ]
    static let redpandaRepositories: Set<String> = ["redpandadata/redpanda", "vectorized/redpanda"]
    /// Images that speak Redis: Valkey (the Linux Foundation fork) and Redis Stack.
    static let redisRepositories: Set<String> = [
        "redis", "bitnami/redis", "valkey/valkey", "bitnami/valkey", "redis/redis-stack-server", "redis/redis-stack",
    ]
    /// ZooKeeper images: Kafka in KRaft mode, Redpanda and Tansu need none.
    static let zookeeperRepositories: Set<String> = [
        "zookeeper", "bitnami/zookeeper", "confluentinc/cp-zookeeper", "wurstmeister/zookeeper", "zookeeper/zookeeper",
    ]

    static func isZookeeper(_ image: String) -> Bool {
        zookeeperRepositories.contains(repository(of: image))
    }

    static func recognize(_ image: String) -> Match? {
        let repository = self.repository(of: image)
        switch repository {
        case "postgres": return Match(kind: .postgres, implementation: .auto)
        default:
            if redisRepositories.contains(repository) { return Match(kind: .redis, implementation: .auto) }
            if kafkaRepositories.contains(repository) { return Match(kind: .kafka, implementation: .auto) }
            if redpandaRepositories.contains(repository) { return Match(kind: .kafka, implementation: .redpanda) }
            return nil
        }
    }

    /// The repository path without registry, `library/`, tag or digest, lower case.
    static func repository(of image: String) -> String {
        var text = image.trimmingCharacters(in: .whitespaces).lowercased()
        if let at = text.firstIndex(of: "@") { text = String(text[..<at]) }
        var parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if var last = parts.popLast() {
            if let colon = last.firstIndex(of: ":") { last = String(last[..<colon]) }
            parts.append(last)
        }
        if parts.count > 1, let first = parts.first, first.contains(".") || first.contains(":") || first == "localhost"
        {
            parts.removeFirst()
        }
        if parts.count > 1, parts.first == "library" { parts.removeFirst() }
        return parts.joined(separator: "/")
    }

    /// The port the official image listens on inside its container.
    static func defaultPort(_ kind: EngineKind) -> Int {
        switch kind {
        case .postgres: return 5432
        case .redis: return 6379
        case .kafka: return 9092
        }
    }
}
