#!/usr/bin/env python3
"""Two muster binaries side by side: warm `up -d` of a Postgres + Redis stack and
the supervisor's memory once ready, alternating the binaries round by round (the
order flips every round), so both see the same machine load.

    python3 scripts/bench.d/ab_binaries.py BEFORE AFTER [--rounds 11] [--label-a X --label-b Y]

Each binary gets a project folder of its own under a temp dir; a first untimed
`up -d` makes its data, every timed one is warm (`down` keeps the data). After
each `up -d` the supervisor's VmRSS and PSS (/proc/PID/status, smaps_rollup) are
read, the pid being `supervisor_pid` of `muster ps --json`; then the Redis server
is SIGKILLed and the detection latency is the `exited` event's own time in
events.jsonl less the moment of the kill (both wall clock). The CLI's own cost on
the running stack: the wall time of `muster --version` (start-up alone), `muster ps`
and `muster env` (start-up, one request to the supervisor, the answer printed), each
the median of 5 runs in the round. Everything is
brought down with `down --volumes` at the end and the folders deleted.
Prints a Markdown table (medians, min, max, and the per-round ratio AFTER ÷ BEFORE).
"""

import argparse
import glob
import json
import signal
from datetime import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

STACK = """services:
  db:
    engine: postgres
    port: auto
  cache:
    engine: redis
    port: auto
"""


def run(binary, folder, *args, capture=False):
    return subprocess.run([binary, *args], cwd=folder, capture_output=True, text=True, timeout=300)


def kb(pid, field, path="status"):
    with open(f"/proc/{pid}/{path}") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def one_round(binary, folder):
    t0 = time.perf_counter()
    up = run(binary, folder, "up", "-d")
    elapsed = time.perf_counter() - t0
    if up.returncode != 0:
        raise SystemExit(f"{binary}: up -d exited {up.returncode}: {up.stderr[-400:]}")
    status = json.loads(run(binary, folder, "ps", "--json").stdout)
    pid = status["supervisor_pid"]
    rss = kb(pid, "VmRSS")
    pss = kb(pid, "Pss", "smaps_rollup")
    cli = [cli_wall(binary, folder, *command) for command in (["--version"], ["ps"], ["env"])]
    detection = detect_kill(folder, next(s["pid"] for s in status["services"] if s["name"] == "cache"))
    down = run(binary, folder, "down")
    if down.returncode != 0:
        raise SystemExit(f"{binary}: down exited {down.returncode}: {down.stderr[-400:]}")
    return (elapsed, rss, pss, detection, *cli)


def cli_wall(binary, folder, *args, runs=5):
    """Median wall seconds of a CLI command on the running stack."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run(binary, folder, *args)
        times.append(time.perf_counter() - t0)
        if result.returncode != 0:
            raise SystemExit(f"{binary} {' '.join(args)} exited {result.returncode}: {result.stderr[-400:]}")
    return statistics.median(times)


def detect_kill(folder, pid):
    """SIGKILL the server; seconds from the kill to the time of its `exited` event."""
    events = glob.glob(os.path.join(folder, ".muster", "*", "events.jsonl"))[0]
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(events) as handle:
            for line in handle:
                event = json.loads(line)
                if event.get("type") == "exited" and event.get("pid") == pid:
                    stamp = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
                    return stamp - killed_at
        time.sleep(0.005)
    raise SystemExit(f"no exited event for pid {pid} within 10 s")


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--label-a", default="before")
    parser.add_argument("--label-b", default="after")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="muster-ab-")
    binaries = {"a": os.path.abspath(args.before), "b": os.path.abspath(args.after)}
    folders = {}
    try:
        for key, binary in binaries.items():
            folders[key] = os.path.join(root, key)
            os.makedirs(folders[key])
            with open(os.path.join(folders[key], "muster.yaml"), "w") as handle:
                handle.write(STACK)
            one_round(binary, folders[key])  # makes the data; not recorded
        results = {"a": [], "b": []}
        for index in range(args.rounds):
            order = ["a", "b"] if index % 2 == 0 else ["b", "a"]
            for key in order:
                results[key].append(one_round(binaries[key], folders[key]))
            print(f"round {index + 1}/{args.rounds}: " + ", ".join(
                f"{key} {results[key][-1][0] * 1000:.0f} ms {results[key][-1][1] / 1024:.1f} MB" for key in "ab"),
                file=sys.stderr)
        rows = [("warm `up -d`", 0, lambda v: f"{v * 1000:.0f} ms"),
                ("supervisor RSS after ready", 1, lambda v: f"{v / 1024:.1f} MB"),
                ("supervisor PSS after ready", 2, lambda v: f"{v / 1024:.1f} MB"),
                ("SIGKILL → `exited` event", 3, lambda v: f"{v * 1000:.2f} ms"),
                ("`muster --version` (CLI start-up)", 4, lambda v: f"{v * 1000:.2f} ms"),
                ("`muster ps` on the running stack", 5, lambda v: f"{v * 1000:.2f} ms"),
                ("`muster env` on the running stack", 6, lambda v: f"{v * 1000:.2f} ms")]
        print(f"| Figure | {args.label_a} (median, min–max) | {args.label_b} (median, min–max) | {args.label_b} ÷ {args.label_a} per round (median, min–max) |")
        print("|---|---|---|---|")
        for name, field, fmt in rows:
            a = [r[field] for r in results["a"]]
            b = [r[field] for r in results["b"]]
            ratios = [y / x for x, y in zip(a, b) if x]
            ma, la, ha = summary(a)
            mb, lb, hb = summary(b)
            mr, lr, hr = summary(ratios)
            print(f"| {name} | {fmt(ma)} ({fmt(la)}–{fmt(ha)}) | {fmt(mb)} ({fmt(lb)}–{fmt(hb)}) | {mr:.3f}× ({lr:.2f}–{hr:.2f}) |")
        print(f"\n{args.rounds} rounds, load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        for key, folder in folders.items():
            run(binaries[key], folder, "down", "--volumes")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
