#!/usr/bin/env python3
"""Restores back to back: p50/p99 of `POST /v1/db/restore` with pools of ready copies
of several sizes (`snapshot: { spares: N }`), on the restore part's database (50
tables, 100 000 rows), each restore sent as soon as the previous one answered, as a
suite that restores before every test does. A measurement, not a test:

    python3 scripts/bench.d/poolbench.py [--binary .build/debug/muster] [--spares 1,2,4]
                                         [--rounds 100] [--work-ms 0] [--old-binary PATH]

--old-binary: a muster without pools (one spare per database), measured the same way.
--work-ms: a pause between restores, like a test's own work (0: none)."""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from restorebench import migration_sql  # noqa: E402


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("muster", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def measure(rounds, work_ms, out_path):
    """Runs under `muster run`: the restores, timed from the client."""
    times, server, waited = [], [], 0
    body = json.dumps({"service": "db", "database": "app"})
    for _ in range(rounds):
        connection = UnixHTTP(os.environ["MUSTER_CONTROL_SOCKET"])
        t0 = time.perf_counter()
        connection.request("POST", "/v1/db/restore", body)
        answer = json.loads(connection.getresponse().read())
        times.append((time.perf_counter() - t0) * 1000)
        connection.close()
        if not answer.get("ok"):
            raise SystemExit(f"restore failed: {answer}")
        server.append(answer.get("elapsed_ms") or 0)
        waited += 1 if answer.get("waited_ms") is not None else 0
        if work_ms:
            time.sleep(work_ms / 1000)
    with open(out_path, "w") as handle:
        json.dump({"client_ms": times, "server_ms": server, "pool_empty": waited}, handle)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_config(binary, spares, rounds, work_ms, label):
    psql = shutil.which("psql") or next(
        f"/usr/lib/postgresql/{v}/bin/psql" for v in sorted(os.listdir("/usr/lib/postgresql"), reverse=True))
    folder = tempfile.mkdtemp(prefix="muster-poolbench-")
    os.chmod(folder, 0o755)
    with open(os.path.join(folder, "migration.sql"), "w") as handle:
        handle.write(migration_sql())
    pool = "" if spares is None else f", spares: {spares}"
    with open(os.path.join(folder, "muster.yaml"), "w") as handle:
        handle.write(f"""name: poolbench
services:
  db:
    engine: postgres
    port: auto
    databases: [app]
    snapshot: {{ after: migrate{pool} }}
  migrate:
    command: ["{psql}", "${{db.url}}", "-v", "ON_ERROR_STOP=1", "-q", "-f", "migration.sql"]
    depends_on: {{ db: ready }}
""")
    out = os.path.join(folder, "result.json")
    try:
        subprocess.run([binary, "up", "-d"], cwd=folder, check=True, stdout=subprocess.DEVNULL)
        time.sleep(2)  # whatever the first fill left in the background
        subprocess.run([binary, "run", "--", sys.executable, os.path.abspath(__file__), "--measure", str(rounds),
                        "--work-ms", str(work_ms), "--out", out], cwd=folder, check=True)
        with open(out) as handle:
            result = json.load(handle)
    finally:
        subprocess.run([binary, "down", "--volumes"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)
    c, s = result["client_ms"], result["server_ms"]
    print(f"{label:28s} p50 {percentile(c, 50):7.1f} ms  p99 {percentile(c, 99):7.1f} ms  "
          f"(server p50 {percentile(s, 50):6.1f} / p99 {percentile(s, 99):6.1f} ms; pool empty {result['pool_empty']}/{len(c)})",
          flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(os.getcwd(), ".build/debug/muster"))
    parser.add_argument("--old-binary")
    parser.add_argument("--spares", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--work-ms", type=int, default=0)
    parser.add_argument("--measure", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.work_ms, args.out)
        return
    print(f"{args.rounds} restores back to back of a 50-table, 100 000-row database, "
          f"{args.work_ms} ms between them (client time over the control socket)", flush=True)
    if args.old_binary:
        run_config(os.path.abspath(args.old_binary), None, args.rounds, args.work_ms, "single spare (before pools)")
    for spares in (int(v) for v in args.spares.split(",")):
        run_config(os.path.abspath(args.binary), spares, args.rounds, args.work_ms, f"pool of {spares}")


if __name__ == "__main__":
    main()
