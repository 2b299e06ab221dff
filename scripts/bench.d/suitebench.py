"""The `suite` part (issue 28): a test suite that restores its database before every
test, against the same suite without restores and against what people do instead,
side by side in one run.

200 tests at 4 workers (a thread per worker, each with its own database, as
pytest-xdist's `-n 4` with per-worker clones), each test connecting to its database,
changing a few rows of three of the 50 tables (an insert, an update, a delete) and
working until 50 ms have passed since it began. Before each test, by contender:

- none:      nothing (the floor: 200 x 50 ms / 4 = 2.5 s)
- muster:    `POST /v1/db/restore` of the worker's clone (`app_gwN`) over the control socket
- truncate:  one `TRUNCATE` of all 50 tables (leaves them empty: no seed rows)
- template:  `DROP DATABASE ... WITH (FORCE)` + `CREATE DATABASE ... TEMPLATE` of the migrated
             database (Postgres 15's default strategy, WAL_LOG), what testcontainers' Restore does

The harness runs inside `muster run` (for the control socket). Reported: the suite's
wall time per contender, and p50/p99 of the time before each test (the restore)."""

import http.client
import json
import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TESTS = 200
WORKERS = 4
WORK_MS = 50
CONTENDERS = ["none", "muster", "truncate", "template"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("muster", timeout=600)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def control(path, body):
    connection = UnixHTTP(os.environ["MUSTER_CONTROL_SOCKET"])
    try:
        connection.request("POST", path, json.dumps(body))
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    if not answer.get("ok"):
        raise RuntimeError(f"{path} failed: {answer}")
    return answer


def harness(socket_dir, port, rounds, tests, workers, work_ms, out_path):
    """Runs under `muster run`: every contender `rounds` times, alternating."""
    import psycopg2

    def connect(dbname):
        conn = psycopg2.connect(host=socket_dir, port=port, user="postgres", dbname=dbname, connect_timeout=10)
        conn.autocommit = True
        return conn

    admin = connect("postgres")
    cur = admin.cursor()
    control("/v1/db/clone", {"service": "db", "database": "app", "count": workers})
    cur.execute("CREATE DATABASE bench_template TEMPLATE app")
    for w in range(workers):
        cur.execute(f"CREATE DATABASE bench_gw{w} TEMPLATE bench_template")
    all_tables = ", ".join(f"t{t:02d}" for t in range(1, 51))

    def before(contender, worker):
        if contender == "muster":
            answer = control("/v1/db/restore", {"service": "db", "database": f"app_gw{worker}"})
            return answer.get("reset_tables"), answer.get("waited_ms")
        if contender == "truncate":
            conn = connect(f"bench_gw{worker}")
            conn.cursor().execute(f"TRUNCATE {all_tables} RESTART IDENTITY CASCADE")
            conn.close()
        elif contender == "template":
            conn = connect("postgres")
            conn.cursor().execute(f"DROP DATABASE IF EXISTS bench_gw{worker} WITH (FORCE)")
            conn.cursor().execute(f"CREATE DATABASE bench_gw{worker} TEMPLATE bench_template")
            conn.close()
        return None, None

    def test(contender, worker, number):
        begin = time.perf_counter()
        conn = connect(f"app_gw{worker}" if contender == "muster" else f"bench_gw{worker}")
        c = conn.cursor()
        c.execute("BEGIN")
        c.execute("INSERT INTO t05 (code, name) SELECT 'test-' || %s || '-' || g || '-' || txid_current(), 'by a test' "
                  "FROM generate_series(1, 5) g", (number,))
        c.execute("UPDATE t07 SET amount = amount + 1 WHERE id <= 10")
        c.execute("DELETE FROM t09 WHERE id = %s", (1 + number % 2000,))
        c.execute("COMMIT")
        conn.close()
        left = work_ms / 1000 - (time.perf_counter() - begin)
        if left > 0:
            time.sleep(left)

    def suite(contender):
        counter = iter(range(tests))
        lock = threading.Lock()
        times, resets, waits, errors = [], [], [], []

        def worker(w):
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                try:
                    t0 = time.perf_counter()
                    reset, waited = before(contender, w)
                    t1 = time.perf_counter()
                    test(contender, w, number)
                except Exception as error:  # noqa: BLE001  (reported, the suite goes on)
                    errors.append(f"{contender} test {number}: {error}")
                    continue
                with lock:
                    times.append((t1 - t0) * 1000)
                    if reset is not None:
                        resets.append(reset)
                    if waited is not None:
                        waits.append(waited)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
        t0 = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {"wall_s": time.perf_counter() - t0, "before_ms": times, "reset_in_place": len(resets),
                "pool_empty": len(waits), "errors": errors}

    results = {c: [] for c in CONTENDERS}
    for contender in CONTENDERS:  # one unrecorded suite each: caches warm, every path taken once
        warm = suite(contender)
        if warm["errors"]:
            print(f"suite: warm-up {contender}: {len(warm['errors'])} errors {warm['errors'][:2]}", file=sys.stderr, flush=True)
    for r in range(rounds):
        shift = r % len(CONTENDERS)
        for contender in CONTENDERS[shift:] + CONTENDERS[:shift]:
            result = suite(contender)
            result["round"] = r
            results[contender].append(result)
            ordered = sorted(result["before_ms"]) or [0]
            print(f"suite: round {r + 1} {contender:9s} {result['wall_s']:6.2f} s; before each test p50 "
                  f"{ordered[len(ordered) // 2]:.1f} ms, p99 {ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]:.1f} ms; "
                  f"in place {result['reset_in_place']}, pool empty {result['pool_empty']}, errors {len(result['errors'])} "
                  f"{result['errors'][:2]}",
                  file=sys.stderr, flush=True)
    # After the last restore, every worker's database equals the snapshot again.
    checks = {}
    for w in range(workers):
        control("/v1/db/restore", {"service": "db", "database": f"app_gw{w}"})
        conn = connect(f"app_gw{w}")
        c = conn.cursor()
        c.execute("SELECT (SELECT count(*) FROM t05), (SELECT count(*) FROM t09), (SELECT sum(amount) FROM t07), "
                  "(SELECT count(*) FROM t05 WHERE name = 'by a test')")
        checks[f"app_gw{w}"] = [str(v) for v in c.fetchone()]
        conn.close()
    admin.close()
    snapshot = connect("bench_template").cursor()
    snapshot.execute("SELECT (SELECT count(*) FROM t05), (SELECT count(*) FROM t09), (SELECT sum(amount) FROM t07), 0")
    expected = [str(v) for v in snapshot.fetchone()]
    snapshot.connection.close()
    with open(out_path, "w") as handle:
        json.dump({"results": results, "checks": checks, "expected": expected}, handle)


def suite(binary, env, root, runs, quick, log):
    """The part's entry point in scripts/bench."""
    from musterstack import Project
    from restorebench import migration_sql, stack_yaml
    from stackbench import BenchError

    directory = os.path.join(root, "suite")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    migration = os.path.join(directory, "migration.sql")
    with open(migration, "w") as handle:
        handle.write(migration_sql())
    os.chmod(migration, 0o644)
    project = Project(binary, os.path.join(directory, "project"), "suite", stack_yaml(migration), env)
    rounds = 1 if quick else max(2, min(runs, 3))
    out_path = os.path.join(directory, "suite.json")
    try:
        project.up(timeout="300s")
        project.ps()
        rc, _, _ = project.run("run", "--", sys.executable, os.path.abspath(__file__), "--harness",
                               project.postgres_socket_dir("db"), str(project.port("db")), str(rounds),
                               str(TESTS), str(WORKERS), str(WORK_MS), out_path, timeout=1800)
        if rc != 0:
            raise BenchError(f"the suite harness exited {rc}: {project.tail()}")
        with open(out_path) as handle:
            data = json.load(handle)
    finally:
        project.remove()
        shutil.rmtree(directory, ignore_errors=True)
    data.update({"tests": TESTS, "workers": WORKERS, "work_ms": WORK_MS, "rounds": rounds, "binary": binary})
    for contender in CONTENDERS:
        walls = [r["wall_s"] for r in data["results"][contender]]
        log(f"  {contender:9s} wall {'/'.join(f'{w:.2f}' for w in walls)} s")
    return data


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "--harness":
        harness(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
                int(sys.argv[7]), sys.argv[8])
    else:
        raise SystemExit("run by scripts/bench --only suite")
