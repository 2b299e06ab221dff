"""Measures the built-in broker's group-join figures that README.md and `muster doctor` quote.

    scripts/kafka-limits [--rounds N] [--bootstrap HOST:PORT]

Without --bootstrap it starts Tests/KafkaClients/stack.yaml with muster (MUSTER_BIN, or
.build/debug/muster) in a temporary folder and stops it at the end. For each client
(confluent-kafka, aiokafka, kafka-python) it times, from subscribe to the first
assignment of a new group's only member:

  - at the client's own default session.timeout.ms (45 s for confluent-kafka and
    kafka-python, 10 s for aiokafka);
  - at session.timeout.ms=6000, what the test suite and the demo notifier use;

and, at 6000, the join of a second aiokafka member after the first stopped (aiokafka
sends no LeaveGroup in the group's first generation, which Tansu numbers 0, so the
broker waits out the first member's session), and of a confluent-kafka member that
joins a group whose member left (it sent LeaveGroup). Prints a Markdown table: the
median of the rounds, and the smallest and largest.
"""

import argparse
import asyncio
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[2]
LIMIT = 120  # seconds any one join may take before the script gives up


def new_topic(bootstrap):
    from confluent_kafka.admin import AdminClient, NewTopic
    name = "limits-" + uuid.uuid4().hex[:10]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)]).values():
        future.result(timeout=30)
    return name


def confluent_join(bootstrap, topic, group, session_ms):
    """Seconds from subscribe to the first assignment; the consumer leaves the group after."""
    from confluent_kafka import Consumer
    settings = {"bootstrap.servers": bootstrap, "group.id": group}
    if session_ms:
        settings.update({"session.timeout.ms": session_ms, "heartbeat.interval.ms": min(3000, session_ms // 6)})
    consumer = Consumer(settings)
    assigned = []
    started = time.monotonic()
    consumer.subscribe([topic], on_assign=lambda _c, _p: assigned.append(time.monotonic()))
    while not assigned and time.monotonic() - started < LIMIT:
        consumer.poll(0.05)
    consumer.close()
    if not assigned:
        raise RuntimeError(f"confluent-kafka: no assignment within {LIMIT} s")
    return assigned[0] - started


def aiokafka_join(bootstrap, topic, group, session_ms):
    from aiokafka import AIOKafkaConsumer

    async def join():
        settings = {}
        if session_ms:
            settings = {"session_timeout_ms": session_ms, "heartbeat_interval_ms": min(3000, session_ms // 6)}
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, **settings)
        started = time.monotonic()
        await asyncio.wait_for(consumer.start(), LIMIT)  # start() returns once the group is joined and synced
        while not consumer.assignment() and time.monotonic() - started < LIMIT:
            await asyncio.sleep(0.05)
        waited = time.monotonic() - started
        await consumer.stop()
        return waited

    return asyncio.run(join())


def kafka_python_join(bootstrap, topic, group, session_ms):
    from kafka import KafkaConsumer
    settings = {}
    if session_ms:
        settings = {"session_timeout_ms": session_ms, "heartbeat_interval_ms": min(3000, session_ms // 6)}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, **settings)
    started = time.monotonic()
    consumer.subscribe([topic])
    while not consumer.assignment() and time.monotonic() - started < LIMIT:
        consumer.poll(timeout_ms=50)
    waited = time.monotonic() - started
    consumer.close()
    return waited


JOINS = {"confluent-kafka": confluent_join, "aiokafka": aiokafka_join, "kafka-python": kafka_python_join}
DEFAULT_SESSION = {"confluent-kafka": "45 s", "aiokafka": "10 s", "kafka-python": "45 s"}


def measure(bootstrap, rounds):
    figures = {}

    def add(label, seconds):
        figures.setdefault(label, []).append(seconds)
        print(f"  {label}: {seconds:.2f} s", file=sys.stderr, flush=True)

    for round_number in range(rounds):
        print(f"round {round_number + 1} of {rounds}", file=sys.stderr, flush=True)
        for client, join in JOINS.items():
            topic = new_topic(bootstrap)
            add(f"{client}, first member, its default session.timeout.ms ({DEFAULT_SESSION[client]})",
                join(bootstrap, topic, "g-" + uuid.uuid4().hex[:10], None))
            add(f"{client}, first member, session.timeout.ms=6000",
                join(bootstrap, topic, "g-" + uuid.uuid4().hex[:10], 6000))
        topic = new_topic(bootstrap)
        group = "g-" + uuid.uuid4().hex[:10]
        aiokafka_join(bootstrap, topic, group, 6000)
        add("aiokafka, next member after the first stopped (no LeaveGroup in generation 0), 6000",
            aiokafka_join(bootstrap, topic, group, 6000))
        group = "g-" + uuid.uuid4().hex[:10]
        confluent_join(bootstrap, topic, group, 6000)
        add("confluent-kafka, next member after the first left, 6000", confluent_join(bootstrap, topic, group, 6000))
    return figures


def render(figures, rounds):
    lines = [f"| join ({rounds} round{'s' if rounds > 1 else ''}) | median | min | max |", "|---|---|---|---|"]
    for label, values in figures.items():
        lines.append(f"| {label} | {statistics.median(values):.1f} s | {min(values):.1f} s | {max(values):.1f} s |")
    return "\n".join(lines)


def start_stack(muster):
    directory = tempfile.mkdtemp(prefix="muster-kafka-limits-")
    stack = f"name: kafka-limits-{uuid.uuid4().hex[:8]}\n" + (REPO / "Tests/KafkaClients/stack.yaml").read_text()
    pathlib.Path(directory, "muster.yaml").write_text(stack)
    subprocess.run([muster, "up", "-d"], cwd=directory, check=True)
    variables = json.loads(subprocess.run([muster, "env", "--format", "json"], cwd=directory, check=True,
                                          capture_output=True, text=True).stdout)
    bootstrap = next(value for key, value in variables.items() if key.endswith("BOOTSTRAP"))
    return directory, bootstrap


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--bootstrap", help="measure this broker instead of starting one")
    options = parser.parse_args()
    muster = os.environ.get("MUSTER_BIN") or str(REPO / ".build/debug/muster")
    directory = None
    bootstrap = options.bootstrap
    if not bootstrap:
        directory, bootstrap = start_stack(muster)
    try:
        print(render(measure(bootstrap, options.rounds), options.rounds))
    finally:
        if directory:
            subprocess.run([muster, "down"], cwd=directory, check=False)
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
