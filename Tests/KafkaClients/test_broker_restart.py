"""`muster restart bus`: the declared topics come back, everything else the broker held is gone.

Known limit (Tansu, `--storage-engine memory://`): the broker keeps messages, topics and
committed offsets in memory, so a restart loses them; muster recreates the declared
topics before the broker counts as ready again. A broker that keeps its log on disk
(Apache Kafka, Redpanda) fails the `== 0` and `not in` checks below.
"""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BROKER_SERVICE, DECLARED_PARTITIONS, DECLARED_TOPIC, WAIT_SECONDS

# What confluent-kafka reports for a partition without a committed offset.
NO_OFFSET = -1001


def message_counts(bootstrap, topic, partitions):
    """How many messages each partition holds, read from its start to its end.

    (Read rather than taken from the end offset: Tansu's end offset counts the last
    record batch as one record; test_confluent_kafka.py pins that.)
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "counting", "enable.partition.eof": True,
                         "enable.auto.commit": False})
    counts = [0] * partitions
    at_end = set()
    try:
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for partition in range(partitions)])
        deadline = time.monotonic() + WAIT_SECONDS
        while len(at_end) < partitions and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                assert message.error().code() == KafkaError._PARTITION_EOF, f"consumer error: {message.error()}"
                at_end.add(message.partition())
            else:
                counts[message.partition()] += 1
        assert len(at_end) == partitions, f"no end of {topic} within {WAIT_SECONDS} s"
        return counts
    finally:
        consumer.close()


def committed_offsets(bootstrap, group, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([TopicPartition(topic, partition) for partition in range(partitions)],
                                   timeout=WAIT_SECONDS)
        return [partition.offset for partition in found]
    finally:
        consumer.close()


def commit(bootstrap, group, offsets):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


@pytest.mark.restarts_broker
def test_restart_brings_back_declared_topics_without_their_messages(stack, names):
    bootstrap = stack.bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    scratch = names.more("scratch")
    for future in admin.create_topics([NewTopic(scratch, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=WAIT_SECONDS)

    producer = Producer({"bootstrap.servers": bootstrap})
    for partition in range(DECLARED_PARTITIONS):
        for index in range(3):
            producer.produce(DECLARED_TOPIC, f"before-{index}".encode(), partition=partition)
    producer.produce(scratch, b"before")
    assert producer.flush(WAIT_SECONDS) == 0
    commit(bootstrap, names.group, [TopicPartition(DECLARED_TOPIC, 0, 2)])
    assert message_counts(bootstrap, DECLARED_TOPIC, DECLARED_PARTITIONS) == [3] * DECLARED_PARTITIONS
    assert committed_offsets(bootstrap, names.group, DECLARED_TOPIC, 1) == [2]

    stack.muster("restart", BROKER_SERVICE)

    # The declared topic is back with its partitions, each with a leader.
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=WAIT_SECONDS)
    assert DECLARED_TOPIC in metadata.topics
    partitions = metadata.topics[DECLARED_TOPIC].partitions
    assert sorted(partitions) == list(range(DECLARED_PARTITIONS))
    assert all(partition.leader >= 0 for partition in partitions.values())

    # Known limit: its messages, the topic a client made and the group's offsets are gone.
    assert message_counts(bootstrap, DECLARED_TOPIC, DECLARED_PARTITIONS) == [0] * DECLARED_PARTITIONS
    assert scratch not in metadata.topics
    assert committed_offsets(bootstrap, names.group, DECLARED_TOPIC, 1) == [NO_OFFSET]

    # The broker works as before: a message produced now is there.
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(DECLARED_TOPIC, b"after", partition=0)
    assert producer.flush(WAIT_SECONDS) == 0
    assert message_counts(bootstrap, DECLARED_TOPIC, 1) == [1]
