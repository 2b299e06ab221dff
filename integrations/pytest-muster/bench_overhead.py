"""Per-test overhead of pytest-muster: N trivial tests run with the plugin inactive
and active (and active with --muster-strict), alternating, best of R runs each.

    .venv/bin/python integrations/pytest-muster/bench_overhead.py [N] [R]

The active runs get a quiet stack's environment: MUSTER_TESTS_FILE, an
events.jsonl that does not grow and a control socket that answers no
disruptions (a stand-in server; the figure is the plugin's cost, not muster's).
Prints one JSON object: the CPU seconds (user + system) of each pytest run, best
of R, and the microseconds per test the plugin adds. CPU time, not wall time, so
that other work on a shared machine does not swamp a difference of microseconds.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"))
from conftest import FakeControl  # noqa: E402


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    work = tempfile.mkdtemp(prefix="pmb-", dir="/tmp")
    suite = os.path.join(work, "suite")
    os.makedirs(suite)
    with open(os.path.join(suite, "test_many.py"), "w") as handle:
        handle.write("\n".join(f"def test_{i}():\n    pass\n" for i in range(count)))
    control = FakeControl(work, os.path.join(work, "disruptions.json"))
    events = os.path.join(work, "events.jsonl")
    open(events, "w").close()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MUSTER_") and k != "PYTEST_ADDOPTS"}
    active = dict(base, MUSTER_EVENTS=events, MUSTER_CONTROL_SOCKET=control.path,
                  MUSTER_TESTS_FILE=os.path.join(work, "tests.jsonl"))
    modes = {"inactive": (base, []), "active": (active, []), "strict": (active, ["--muster-strict"])}
    best = {name: float("inf") for name in modes}
    try:
        for _ in range(rounds):
            for name, (env, extra) in modes.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite] + extra,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                elapsed = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                if done.returncode != 0:
                    raise SystemExit(f"pytest failed in mode {name}")
                best[name] = min(best[name], elapsed)
    finally:
        control.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "tests": count,
        "cpu_seconds": {name: round(value, 3) for name, value in best.items()},
        "added_us_per_test": {name: round((best[name] - best["inactive"]) / count * 1e6, 1)
                              for name in ("active", "strict")},
        "api_requests": len(control.requests),
    }))


if __name__ == "__main__":
    main()
