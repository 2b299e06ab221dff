#!/usr/bin/env python3
"""Demo app notifier: Kafka topic -> Redis pub/sub fan-out.

Consumes JSON messages like {"user_id": 42, "body": "hi"} and PUBLISHes each raw
value to the Redis channel ws:{user_id} (what a websocket gateway would listen to).

Environment:
  KAFKA_BOOTSTRAP_SERVERS  host:port[,host:port] (required)
  REDIS_URL                redis://host:port/0 (required)
  NOTIFIER_TOPIC           topic to consume (default: notifications)
  NOTIFIER_GROUP           consumer group id (default: notifier)
  NOTIFY_SOCKET            optional: systemd-style notify socket, gets "READY=1"

Readiness: the consumer starts at the *latest* offsets. So that no message
produced after readiness can be missed, on_assign pins every assigned partition
to its current high watermark (queried from the broker) before the assignment
is applied; only then does it print `notifier ready: assigned N partitions` and
send READY=1 to $NOTIFY_SOCKET (once per process).

session.timeout.ms is 6000: with a larger one the first group assignment takes
20 s or more, and a notifier that died without leaving the group holds its
partitions until its session expires.

SIGTERM / SIGINT: leave the group (consumer.close()) and exit 0, within a couple
of seconds at most (a watchdog forces the exit if close() hangs).
"""

import json
import os
import signal
import socket
import sys
import threading
import time

try:
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition  # noqa: F401
    import redis
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"notifier: error: cannot import {exc.name} ({exc}); run it with the venv python "
          "(scripts/lib/python-env.sh)", file=sys.stderr, flush=True)
    sys.exit(1)

T0 = time.monotonic()
STOP_GRACE_S = 5.0

stop = threading.Event()
ready_sent = False


def log(msg):
    print(f"notifier: {msg}", flush=True)


def elapsed():
    return f"{time.monotonic() - T0:.1f}s"


def sd_notify(state):
    """Send `state` to $NOTIFY_SOCKET (systemd notify protocol); no-op when unset."""
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(addr)
            sock.sendall(state.encode())
    except OSError as exc:
        log(f"warning: cannot notify {os.environ['NOTIFY_SOCKET']!r}: {exc}")


def describe(partitions):
    return ", ".join(f"{p.topic}[{p.partition}]@{p.offset}" for p in partitions) or "none"


def make_on_assign(topic):
    def on_assign(consumer, partitions):
        global ready_sent
        # Pin each partition to its high watermark *now*: with auto.offset.reset
        # alone, "latest" would be resolved lazily when fetching starts, after we
        # said we were ready, and a message produced in between would be lost.
        for p in partitions:
            attempt = 0
            while True:
                attempt += 1
                try:
                    _low, high = consumer.get_watermark_offsets(
                        TopicPartition(p.topic, p.partition), timeout=5, cached=False)
                    p.offset = high
                    break
                except KafkaException as exc:
                    if stop.is_set():
                        return
                    log(f"error: cannot read the high watermark of {p.topic}[{p.partition}] "
                        f"(attempt {attempt}): {exc.args[0] if exc.args else exc}; retrying")
                    time.sleep(min(0.2 * attempt, 2.0))
        consumer.assign(partitions)
        log(f"assigned {len(partitions)} partition(s) after {elapsed()}: {describe(partitions)}")
        if ready_sent:
            return
        if not partitions:
            log(f"not ready yet: no partition of {topic!r} assigned to this member "
                "(topic missing, or more consumers than partitions)")
            return
        ready_sent = True
        print(f"notifier ready: assigned {len(partitions)} partitions", flush=True)
        sd_notify("READY=1")

    return on_assign


def on_revoke(_consumer, partitions):
    # confluent-kafka unassigns by itself after this callback.
    log(f"partitions revoked: {describe(partitions)}")


def on_lost(_consumer, partitions):
    # confluent-kafka unassigns by itself after this callback.
    log(f"partitions lost (session expired?): {describe(partitions)}")


_error_seen = {}  # error name -> [last time logged, occurrences not logged since]
ERROR_LOG_EVERY_S = 10.0


def on_kafka_error(err):
    # Broker unreachable, all brokers down, ...: librdkafka keeps retrying, many
    # times a second, so the same error is logged at most every 10 s.
    now = time.monotonic()
    seen = _error_seen.get(err.name())
    if seen is not None and now - seen[0] < ERROR_LOG_EVERY_S:
        seen[1] += 1
        return
    more = f" (and {seen[1]} more like it in the last {now - seen[0]:.0f}s)" if seen and seen[1] else ""
    _error_seen[err.name()] = [now, 0]
    log(f"kafka: {err.name()}: {err.str()}{more}")


def connect_redis(url, wait=10.0):
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                  health_check_interval=30)
    deadline = time.monotonic() + wait
    while True:
        try:
            client.ping()
            return client
        except redis.RedisError as exc:
            if stop.is_set() or time.monotonic() > deadline:
                raise SystemExit(f"notifier: error: cannot reach Redis at {url}: {exc}")
            time.sleep(0.2)


def publish(client, channel, value):
    for attempt in range(1, 4):
        try:
            return client.publish(channel, value)
        except redis.RedisError as exc:
            log(f"error: PUBLISH {channel} failed (attempt {attempt}/3): {exc}")
            if attempt < 3 and not stop.is_set():
                time.sleep(0.2 * attempt)
    return None


def handle(client, msg):
    where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
    value = msg.value()
    try:
        data = json.loads(value)
        user_id = data["user_id"]
        if isinstance(user_id, (dict, list)) or user_id is None:
            raise ValueError("user_id must be a number or a string")
    except (ValueError, TypeError, KeyError) as exc:
        preview = (value or b"")[:200]
        log(f"skipping {where}: not JSON with a user_id ({exc.__class__.__name__}: {exc}): {preview!r}")
        return
    channel = f"ws:{user_id}"
    receivers = publish(client, channel, value)
    if receivers is not None:
        log(f"{where} -> PUBLISH {channel} ({receivers} subscriber{'s' if receivers != 1 else ''})")
    else:
        log(f"error: dropped {where} for {channel}: Redis unavailable")


def on_signal(signum, _frame):
    if stop.is_set():
        return
    stop.set()
    log(f"{signal.Signals(signum).name} received, leaving the group")

    def watchdog():
        time.sleep(STOP_GRACE_S)
        print(f"notifier: consumer did not close within {STOP_GRACE_S:.0f}s; exiting anyway",
              flush=True)
        os._exit(0)

    threading.Thread(target=watchdog, name="stop-watchdog", daemon=True).start()


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    topic = os.environ.get("NOTIFIER_TOPIC", "").strip() or "notifications"
    group = os.environ.get("NOTIFIER_GROUP", "").strip() or "notifier"
    missing = [n for n, v in (("KAFKA_BOOTSTRAP_SERVERS", bootstrap), ("REDIS_URL", redis_url)) if not v]
    if missing:
        print(f"notifier: error: {' and '.join(missing)} not set", file=sys.stderr, flush=True)
        return 2

    log(f"starting (pid {os.getpid()}, bootstrap {bootstrap}, topic {topic}, group {group})")
    client = connect_redis(redis_url)

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": f"notifier-{os.getpid()}",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "auto.offset.reset": "latest",
        "enable.auto.commit": True,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,  # deliver within ~0.1 s, not the default 0.5 s
        # Pick up a topic created after we subscribed, and a restarted broker, quickly.
        "topic.metadata.refresh.interval.ms": 5000,
        "reconnect.backoff.max.ms": 1000,
        "error_cb": on_kafka_error,
        # librdkafka's own log lines would repeat every connection error many
        # times a second; error_cb above reports them, rate-limited.
        "log_level": 0,
    })
    consumer.subscribe([topic], on_assign=make_on_assign(topic), on_revoke=on_revoke,
                       on_lost=on_lost)
    log("subscribed, waiting for the partition assignment")

    try:
        while not stop.is_set():
            msg = consumer.poll(0.25)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue
                on_kafka_error(err)
                if err.fatal():
                    return 1
                continue
            handle(client, msg)
    except KafkaException as exc:
        log(f"error: {exc}")
        return 1
    finally:
        t = time.monotonic()
        try:
            consumer.close()  # commits offsets and leaves the group
            log(f"consumer closed in {time.monotonic() - t:.2f}s")
        except Exception as exc:  # closing twice, broker gone, ...
            log(f"warning: consumer close: {exc}")
        try:
            client.close()
        except Exception:
            pass
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
