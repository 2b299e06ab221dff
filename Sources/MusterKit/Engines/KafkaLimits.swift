/// Something a server lacks next to the real thing, with the figure measured here and
/// what to do about it: what `muster doctor` says about the Kafka broker that will run.
public struct EngineLimit: Codable, Sendable, Equatable {
    /// What it lacks, in a sentence.
    public var limit: String
    /// The figure measured on this project's machines, and how.
    public var measured: String
    /// What a user does about it.
    public var workaround: String
}

/// What each Kafka implementation lacks, as the Kafka client suite (Tests/KafkaClients:
/// confluent-kafka, aiokafka and kafka-python against the broker muster starts) pins
/// it, with the join figures of `scripts/kafka-limits`. A broker upgrade that changes one
/// of these changes a test there; change the text here with it.
extension ServiceKind.Implementation {
    /// The name a person knows it by.
    public var displayName: String {
        switch self {
        case .tansu: return "Tansu"
        case .apache: return "Apache Kafka (KRaft)"
        case .redpanda: return "Redpanda"
        }
    }

    /// Whether the Kafka client suite runs against it here. Apache Kafka and Redpanda
    /// cannot be installed on this project's machines.
    public var testedHere: Bool { self == .tansu }

    /// What a restart of the broker loses, said in its `restarted` and
    /// `restart_detected` events; nil for a broker that keeps its log on disk.
    public var lostOnRestart: String? {
        self == .tansu ? "the broker keeps messages in memory: every message is gone" : nil
    }

    /// What it lacks, measured with the clients users run. Empty for the
    /// implementations not tested here (see `testedHere`), which are not known to lack anything.
    public var limits: [EngineLimit] {
        guard self == .tansu else { return [] }
        return [
            EngineLimit(
                limit:
                    "a consumer group's first assignment (and each rebalance) waits session.timeout.ms / 2 for more members",
                measured:
                    "23 s at the 45 s default of confluent-kafka and kafka-python, 5 s at aiokafka's 10 s, 3 s at 6000; kafka-python sometimes joins two or three times in a row (a metadata refresh lands during its join), each time waiting again: up to 46 s at its default",
                workaround: "set session.timeout.ms=6000 (heartbeat.interval.ms=1000) in test and development clients"),
            EngineLimit(
                limit: "messages, client-made topics and committed offsets live in memory: a broker restart loses them",
                measured:
                    "after `muster restart` every partition is empty again; declared topics are created again before it is ready",
                workaround:
                    "declare the topics a stack needs (topics:), and produce what a test needs after the broker is ready"
            ),
            EngineLimit(
                limit: "aiokafka's idempotent producer is refused: InitProducerId answers UnknownError",
                measured:
                    "AIOKafkaProducer(enable_idempotence=True).start() fails; confluent-kafka's and kafka-python's idempotent producers work",
                workaround: "enable_idempotence=False with aiokafka, or confluent-kafka"),
            EngineLimit(
                limit:
                    "an aiokafka consumer that stops in a new group's first generation (numbered 0 here) does not leave the group",
                measured: "the next member's join waits for the old session to expire: 11 s at session_timeout_ms=6000",
                workaround: "keep session_timeout_ms at 6000 in development, or confluent-kafka (it leaves the group)"),
            EngineLimit(
                limit: "the end offset (high watermark, ListOffsets latest) counts the last record batch as one record",
                measured:
                    "after one batch of 3 records the end offset is 1, so a consumer starting at 'latest' reads 2 older records, and lag looks smaller",
                workaround:
                    "start test consumers at 'earliest' on a fresh topic or group, and count what was read instead of reading end offsets"
            ),
            EngineLimit(
                limit:
                    "an aborted transaction's messages reach read_committed consumers (open transactions are held back, commits work)",
                measured: "confluent-kafka and kafka-python read_committed consumers read the aborted messages",
                workaround: "do not rely on abort_transaction() to hide messages from consumers"),
        ]
    }

    /// One line for an implementation without limits listed.
    public var untestedNote: String? {
        testedHere
            ? nil
            : "untested here: muster can start it, but the Kafka client suite (Tests/KafkaClients) runs against Tansu only, so what it lacks has not been measured"
    }
}
