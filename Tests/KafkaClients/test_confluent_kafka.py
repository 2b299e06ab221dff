"""confluent-kafka (librdkafka) against muster's broker: what works, and the known limits."""

import time

from confluent_kafka import OFFSET_END, Consumer, KafkaError, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, WAIT_SECONDS


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(timeout=WAIT_SECONDS)


def produce(bootstrap, topic, values, partition=None, **settings):
    producer = Producer({"bootstrap.servers": bootstrap, **settings})
    for value in values:
        if partition is None:
            producer.produce(topic, value.encode())
        else:
            producer.produce(topic, value.encode(), partition=partition)
    assert producer.flush(WAIT_SECONDS) == 0, "messages still queued after the flush"


def group_consumer(bootstrap, group, **settings):
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        **settings,
    })


def poll_messages(consumers, count):
    """Polls the consumers in turn until they got `count` messages together; {consumer index: [messages]}."""
    got = {index: [] for index in range(len(consumers))}
    deadline = time.monotonic() + WAIT_SECONDS
    while sum(len(messages) for messages in got.values()) < count and time.monotonic() < deadline:
        for index, consumer in enumerate(consumers):
            message = consumer.poll(0.2)
            if message is None:
                continue
            assert message.error() is None, f"consumer error: {message.error()}"
            got[index].append(message)
    assert sum(len(messages) for messages in got.values()) == count, f"got {got} of {count} messages"
    return got


def read_partition(bootstrap, topic, partition, isolation, start=0):
    """The messages of a partition visible at `isolation` from `start` to its end, read by assignment (no group)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-" + topic, "isolation.level": isolation,
                         "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, start)])
    values = []
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                assert message.error().code() == KafkaError._PARTITION_EOF, f"consumer error: {message.error()}"
                return values
            values.append(message.value().decode())
        raise AssertionError(f"no end of partition {topic}/{partition} within {WAIT_SECONDS} s; read {values}")
    finally:
        consumer.close()


def test_admin_creates_lists_and_describes_topics(bootstrap, names):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(names.topic, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=WAIT_SECONDS)
    metadata = admin.list_topics(timeout=WAIT_SECONDS)
    assert names.topic in metadata.topics
    assert sorted(metadata.topics[names.topic].partitions) == [0, 1, 2]
    assert all(partition.leader >= 0 for partition in metadata.topics[names.topic].partitions.values())

    described = admin.describe_topics(TopicCollection([names.topic]))[names.topic].result(timeout=WAIT_SECONDS)
    assert described.name == names.topic
    assert [partition.id for partition in described.partitions] == [0, 1, 2]

    # A second create of the same topic is refused as existing, as with Apache Kafka.
    again = admin.create_topics([NewTopic(names.topic, num_partitions=3, replication_factor=1)])[names.topic]
    error = again.exception(timeout=WAIT_SECONDS)
    assert error is not None and error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS


def test_group_consumes_and_a_second_member_resumes_after_the_commit(bootstrap, names):
    create_topic(bootstrap, names.topic, 1)
    produce(bootstrap, names.topic, [f"m{index}" for index in range(6)])

    first = group_consumer(bootstrap, names.group)
    first.subscribe([names.topic])
    messages = poll_messages([first], 3)[0]
    assert [message.value().decode() for message in messages] == ["m0", "m1", "m2"]
    first.commit(message=messages[-1], asynchronous=False)
    committed = first.committed([TopicPartition(names.topic, 0)], timeout=WAIT_SECONDS)
    assert committed[0].offset == 3
    first.close()

    second = group_consumer(bootstrap, names.group)
    second.subscribe([names.topic])
    rest = poll_messages([second], 3)[0]
    second.close()
    assert [(message.offset(), message.value().decode()) for message in rest] == [(3, "m3"), (4, "m4"), (5, "m5")]


def test_two_members_split_the_partitions(bootstrap, names):
    create_topic(bootstrap, names.topic, 2)
    assignments = {0: set(), 1: set()}

    def remember(index):
        def on_assign(consumer, partitions):
            assignments[index] = {partition.partition for partition in partitions}
        return on_assign

    def forget(index):
        def on_revoke(consumer, partitions):
            assignments[index] = set()
        return on_revoke

    # Both subscribe at once, so one join round usually serves both; when the second
    # member comes late, the first one's partitions are revoked and shared out again.
    members = [group_consumer(bootstrap, names.group) for _ in range(2)]
    for index, member in enumerate(members):
        member.subscribe([names.topic], on_assign=remember(index), on_revoke=forget(index))
    deadline = time.monotonic() + WAIT_SECONDS
    while not (assignments[0] and assignments[1]) and time.monotonic() < deadline:
        for member in members:
            member.poll(0.2)
    assert assignments[0] and assignments[1], f"both members should hold a partition: {assignments}"
    assert assignments[0] | assignments[1] == {0, 1} and not assignments[0] & assignments[1]

    for partition in (0, 1):
        produce(bootstrap, names.topic, [f"p{partition}-{index}" for index in range(3)], partition=partition)
    got = poll_messages(members, 6)
    held = {index: set(partitions) for index, partitions in assignments.items()}
    for member in members:
        member.close()  # revokes: `assignments` empties
    for index in (0, 1):
        partitions = {message.partition() for message in got[index]}
        assert partitions == held[index], f"member {index} read {partitions}, holds {held[index]}"


def test_idempotent_producer_works(bootstrap, names):
    create_topic(bootstrap, names.topic, 1)
    produce(bootstrap, names.topic, ["a", "b", "c"], **{"enable.idempotence": True})
    assert read_partition(bootstrap, names.topic, 0, "read_committed") == ["a", "b", "c"]


def test_transactions_with_read_committed(bootstrap, names):
    create_topic(bootstrap, names.topic, 1)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": names.more("tx")})
    producer.init_transactions(WAIT_SECONDS)

    producer.begin_transaction()
    producer.produce(names.topic, b"committed-1")
    producer.commit_transaction(WAIT_SECONDS)

    # An open transaction is held back from read_committed, and shown to read_uncommitted.
    producer.begin_transaction()
    producer.produce(names.topic, b"open-then-committed")
    assert producer.flush(WAIT_SECONDS) == 0
    assert read_partition(bootstrap, names.topic, 0, "read_committed") == ["committed-1"]
    assert read_partition(bootstrap, names.topic, 0, "read_uncommitted") == ["committed-1", "open-then-committed"]
    producer.commit_transaction(WAIT_SECONDS)
    assert read_partition(bootstrap, names.topic, 0, "read_committed") == ["committed-1", "open-then-committed"]

    # Known limit (Tansu 0.6): an aborted transaction's messages are not filtered out for
    # read_committed consumers (the broker sends no aborted-transaction list in its fetch
    # answers). With Apache Kafka the list below would hold the committed messages only.
    producer.begin_transaction()
    producer.produce(names.topic, b"aborted")
    assert producer.flush(WAIT_SECONDS) == 0
    producer.abort_transaction(WAIT_SECONDS)
    producer.begin_transaction()
    producer.produce(names.topic, b"committed-2")
    producer.commit_transaction(WAIT_SECONDS)
    assert read_partition(bootstrap, names.topic, 0, "read_committed") == [
        "committed-1", "open-then-committed", "aborted", "committed-2"]


def test_known_limit_a_group_first_assignment_waits_half_the_session_timeout(bootstrap, names):
    """Tansu holds a new group's join for session.timeout.ms / 2 (waiting for more members).

    Pinned with a lower bound only: the first assignment comes no sooner than 40 % of
    session.timeout.ms after subscribe. A slow machine can only make it later, so the
    check cannot fail by load; a broker that assigns at once (Apache Kafka with
    group.initial.rebalance.delay.ms=0, as muster configures it) fails it, which is the
    change this test is here to show. No upper bound is asserted.
    """
    create_topic(bootstrap, names.topic, 1)
    consumer = group_consumer(bootstrap, names.group)
    assigned = []
    started = time.monotonic()
    consumer.subscribe([names.topic], on_assign=lambda _consumer, _partitions: assigned.append(time.monotonic()))
    deadline = started + WAIT_SECONDS
    while not assigned and time.monotonic() < deadline:
        consumer.poll(0.1)
    consumer.close()
    assert assigned, "no assignment"
    waited = assigned[0] - started
    assert waited >= 0.4 * SESSION_TIMEOUT_MS / 1000, (
        f"the first assignment came after {waited:.2f} s, sooner than 40 % of session.timeout.ms "
        f"({SESSION_TIMEOUT_MS} ms): the broker no longer holds joins; update doctor and the README")


def test_known_limit_the_end_offset_counts_the_last_batch_as_one_record(bootstrap, names):
    """Known limit (Tansu 0.6): the end offset (high watermark, ListOffsets "latest") is
    the last record batch's first offset + 1, not its last offset + 1. After one batch
    of three records it is 1 instead of 3, so a consumer that starts at the end reads
    the batch's last two records, which were there before it started, and lag read from
    end offsets is too small. With Apache Kafka the end offset is 3 and that consumer
    reads nothing.
    """
    create_topic(bootstrap, names.topic, 1)
    # One batch: the producer holds the records up to linger.ms, and flush() sends them together.
    produce(bootstrap, names.topic, ["old-0", "old-1", "old-2"], partition=0, **{"linger.ms": 1000})
    assert read_partition(bootstrap, names.topic, 0, "read_uncommitted") == ["old-0", "old-1", "old-2"]

    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": names.group, "enable.auto.commit": False})
    try:
        assert reader.get_watermark_offsets(TopicPartition(names.topic, 0), timeout=WAIT_SECONDS) == (0, 1)
    finally:
        reader.close()
    assert read_partition(bootstrap, names.topic, 0, "read_uncommitted", start=OFFSET_END) == ["old-1", "old-2"]
