"""Detection latency: how soon after a SIGKILL muster reports the exit and the
restart, and a Postgres backend's death as `restart_detected`."""

import os
import signal
import time

import procs
from stackbench import EventTail, MusterCLI, down_and_check, parse_time, write_file


def detection(binary, env, root, samples, pg_samples):
    directory = os.path.join(root, "detect")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    procs.add_root(directory)
    victims = [f"v{i:02d}" for i in range(1, samples + 1)]
    text = "# written by scripts/bench: detection latency\nname: detect\nservices:\n"
    text += "  db:\n    engine: postgres\n    port: auto\n"
    for name in victims:
        text += (f"  {name}:\n    command: \"echo ready; exec sleep 1000\"\n    ready: {{ log: ready }}\n"
                 f"    restart: on-failure\n    max_restarts: 100\n")
    stack = os.path.join(directory, "muster.yaml")
    write_file(stack, text)
    cli = MusterCLI(binary, stack, "detect", env, os.path.join(directory, "muster-cli.log"))
    result = {"exited_ms": [], "restarted_ms": [], "restart_detected_ms": [], "notes": []}
    status = None
    try:
        cli.up()
        status = cli.ps()
        by_name = {s["name"]: s for s in status["services"]}
        tail = EventTail(cli.events_path())
        # Each victim is killed once, so every restart sees muster's first backoff step.
        for name in victims:
            pid = by_name[name]["pid"]
            time.sleep(0.25)
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            exited = tail.wait_for(lambda e: e.get("service") == name and e.get("type") == "exited"
                                   and e.get("pid") == pid, 10)
            restarted = tail.wait_for(lambda e: e.get("service") == name and e.get("type") == "restarted"
                                      and e.get("previous_pid") == pid, 10)
            if exited is None:
                result["notes"].append(f"{name}: no exited event for pid {pid} within 10 s")
            else:
                result["exited_ms"].append((parse_time(exited["time"]) - killed_at) * 1000)
            if restarted is None:
                result["notes"].append(f"{name}: no restarted event for pid {pid} within 10 s")
            else:
                result["restarted_ms"].append((parse_time(restarted["time"]) - killed_at) * 1000)
        result["backoff_note"] = "restarted includes muster's first restart backoff (100 ms)"
        # Postgres in-place crash reinit: SIGKILL one backend; the postmaster
        # restarts every backend without its own pid changing.
        result["restart_detected_ms"] = []
        result["restart_detected_missed"] = 0
        port = by_name["db"]["ports"][0]
        import psycopg2
        for attempt in range(pg_samples):
            conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=5)
            conn.autocommit = True
            backend = None
            deadline = time.monotonic() + 20
            while backend is None:
                try:
                    cur = conn.cursor()
                    cur.execute("SELECT pg_backend_pid()")
                    backend = cur.fetchone()[0]
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            killed_at = time.time()
            os.kill(backend, signal.SIGKILL)
            detected = tail.wait_for(lambda e: e.get("service") == "db" and e.get("type") == "restart_detected"
                                     and parse_time(e["time"]) >= killed_at - 0.001, 10)
            try:
                conn.close()
            except Exception:
                pass
            if detected is None:
                result["restart_detected_missed"] = result.get("restart_detected_missed", 0) + 1
                result["notes"].append(f"Postgres backend kill {attempt + 1}: no restart_detected event for db "
                                       "within 10 s")
            else:
                result["restart_detected_ms"].append((parse_time(detected["time"]) - killed_at) * 1000)
            # let the server finish its recovery before the next kill
            _wait_pg(port, 30)
            time.sleep(0.5)
        if result["restart_detected_ms"]:
            result["restart_detected_status"] = "measured"
        else:
            result["restart_detected_status"] = (
                "not measured yet: no restart_detected event within 10 s of SIGKILLing a Postgres backend")
        tail.poll()
        result["db_events_after_kill"] = [e["type"] for e in tail.events if e.get("service") == "db"]
    finally:
        result["teardown"] = down_and_check(cli, directory, status)
    return result


def _wait_pg(port, timeout):
    import probes
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probes.postgres_ready(port):
            return True
        time.sleep(0.05)
    return False
