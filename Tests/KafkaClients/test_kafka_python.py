"""kafka-python against muster's broker: what works."""

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from conftest import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, WAIT_SECONDS


def create_topic(bootstrap, name, partitions):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def produce(bootstrap, topic, values, **settings):
    producer = KafkaProducer(bootstrap_servers=bootstrap, **settings)
    try:
        for value in values:
            producer.send(topic, value.encode()).get(timeout=WAIT_SECONDS)
    finally:
        producer.close()


def group_consumer(bootstrap, topic, group):
    return KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=SESSION_TIMEOUT_MS,
                         heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS, consumer_timeout_ms=WAIT_SECONDS * 1000)


def take(consumer, count):
    messages = []
    for message in consumer:  # ends after consumer_timeout_ms without a message
        messages.append(message)
        if len(messages) == count:
            break
    assert len(messages) == count, f"got {len(messages)} of {count} messages"
    return messages


def test_admin_creates_lists_and_describes_topics(bootstrap, names):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(names.topic, num_partitions=2, replication_factor=1)])
        assert names.topic in admin.list_topics()
        [described] = admin.describe_topics([names.topic])
        assert described["error_code"] == 0
        assert sorted(partition["partition_index"] for partition in described["partitions"]) == [0, 1]
    finally:
        admin.close()


def test_group_consumes_and_a_second_member_resumes_after_the_commit(bootstrap, names):
    create_topic(bootstrap, names.topic, 1)
    produce(bootstrap, names.topic, [f"m{index}" for index in range(6)])
    partition = TopicPartition(names.topic, 0)

    first = group_consumer(bootstrap, names.topic, names.group)
    try:
        messages = take(first, 3)
        assert [message.value.decode() for message in messages] == ["m0", "m1", "m2"]
        first.commit({partition: OffsetAndMetadata(messages[-1].offset + 1, "", -1)})
        assert first.committed(partition) == 3
    finally:
        first.close()

    second = group_consumer(bootstrap, names.topic, names.group)
    try:
        rest = take(second, 3)
    finally:
        second.close()
    assert [(message.offset, message.value.decode()) for message in rest] == [(3, "m3"), (4, "m4"), (5, "m5")]


def test_idempotent_producer_works(bootstrap, names):
    create_topic(bootstrap, names.topic, 1)
    produce(bootstrap, names.topic, ["a", "b"], enable_idempotence=True)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=WAIT_SECONDS * 1000)
    try:
        consumer.assign([TopicPartition(names.topic, 0)])
        assert [message.value for message in take(consumer, 2)] == [b"a", b"b"]
    finally:
        consumer.close()
