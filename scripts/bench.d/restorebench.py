"""The `restore` part: resetting a test database of 50 tables and 100 000 rows
(made by a plain SQL migration script, with indexes and foreign keys) five ways,
side by side in one run, alternating:

- migrate:   DROP + CREATE DATABASE, then the migration script again (psql -f)
- truncate:  one `TRUNCATE` of every table (leaves them empty: no seed rows)
- dump:      DROP + CREATE DATABASE, then pg_restore of a `pg_dump -Fc` taken once
- muster:    `muster db restore db` through the CLI (snapshot taken by the stack
             after its migrate task), 1 s apart as a test suite's tests would be,
             and back to back (the second restore's spare is not ready yet)
- copy:      DROP DATABASE + CREATE DATABASE ... TEMPLATE (testcontainers-go's
             Restore), with STRATEGY WAL_LOG and FILE_COPY

All of them run against the same Postgres (muster's), on databases of their own."""

import os
import shutil
import subprocess
import time

import procs
from musterstack import Project
import stackbench
from stackbench import BenchError

TABLES = 50
ROWS = 100_000


def migration_sql(tables=TABLES, rows=ROWS):
    """A plain SQL migration: tables with a primary key, two secondary indexes, a
    foreign key to the first table (from the second on), a unique constraint, and
    rows / tables rows each."""
    per = rows // tables
    parts = ["-- written by scripts/bench: 50 tables, 100 000 rows", "BEGIN;"]
    for t in range(1, tables + 1):
        name = f"t{t:02d}"
        ref = "" if t == 1 else " REFERENCES t01(id)"
        parts.append(f"""CREATE TABLE {name} (
    id bigserial PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    amount numeric(12, 2) NOT NULL DEFAULT 0,
    ref_id bigint{ref},
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX {name}_name_idx ON {name} (name);
CREATE INDEX {name}_ref_created_idx ON {name} (ref_id, created_at);
INSERT INTO {name} (code, name, amount, ref_id)
    SELECT '{name}-' || g, 'item ' || (g * 7919 % {per}), g * 1.25, 1 + g % 100 FROM generate_series(1, {per}) g;""")
    parts.append("COMMIT;")
    parts.append("ANALYZE;")
    return "\n".join(parts) + "\n"


def stack_yaml(migration_path):
    psql = os.path.join(stackbench.PG_BIN, "psql")
    return f"""# written by scripts/bench: the restore benchmark
name: restore
services:
  db:
    engine: postgres
    port: auto
    databases: [app]
    snapshot: {{ after: migrate }}
  migrate:
    command: ["{psql}", "${{db.url}}", "-v", "ON_ERROR_STOP=1", "-q", "-f", "{migration_path}"]
    depends_on: {{ db: ready }}
"""


class Admin:
    """Superuser statements over muster's unix socket, each in a fresh connection
    (autocommit: CREATE/DROP DATABASE cannot run in a transaction)."""

    def __init__(self, socket_dir, port):
        self.socket_dir = socket_dir
        self.port = port

    def connect(self, dbname="postgres"):
        import psycopg2
        conn = psycopg2.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=dbname, connect_timeout=10)
        conn.autocommit = True
        return conn

    def execute(self, *statements, dbname="postgres"):
        conn = self.connect(dbname)
        try:
            cur = conn.cursor()
            cur.execute("SET statement_timeout = '120s'")
            for statement in statements:
                cur.execute(statement)
            return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def libpq_args(self, dbname):
        return ["-h", self.socket_dir, "-p", str(self.port), "-U", "postgres", "-d", dbname]


def _run(argv, what, timeout=300):
    proc = procs.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        procs.wait_exact(proc, timeout)
        err = proc.stderr.read().decode(errors="replace").strip()
    finally:
        proc.stderr.close()
        procs.forget_group(proc.pid)
    if proc.returncode != 0:
        raise BenchError(f"{what} exited {proc.returncode}: {err[-300:]}")


def _count_rows(admin, dbname):
    union = " + ".join(f"(SELECT count(*) FROM t{t:02d})" for t in range(1, TABLES + 1))
    return admin.execute(f"SELECT {union}", dbname=dbname)[0][0]


def restore(binary, env, root, runs, quick, log):
    directory = os.path.join(root, "restore")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    migration = os.path.join(directory, "migration.sql")
    with open(migration, "w") as handle:
        handle.write(migration_sql())
    os.chmod(migration, 0o644)
    project = Project(binary, os.path.join(directory, "project"), "restore", stack_yaml(migration), env)
    out = {"tables": TABLES, "rows": ROWS, "migration_bytes": os.path.getsize(migration),
           "migrate": [], "migrate_script": [], "truncate": [], "dump": [], "dump_restore_only": [],
           "muster": [], "muster_back_to_back": [],
           "copy_wal_log": [], "copy_file_copy": [], "drop": [], "create_wal_log": [], "create_file_copy": [],
           "errors": []}
    try:
        out["up_s"] = project.up(timeout="300s")
        project.ps()
        admin = Admin(project.postgres_socket_dir("db"), project.port("db"))
        psql = os.path.join(stackbench.PG_BIN, "psql")
        # A seed database of the harness's own (the same script), the template for truncate / dump / copy.
        admin.execute("CREATE DATABASE bench_seed")
        _run([psql, *admin.libpq_args("bench_seed"), "-v", "ON_ERROR_STOP=1", "-q", "-f", migration], "seed migration")
        out["rows_in_app"] = _count_rows(admin, "app")
        out["rows_in_seed"] = _count_rows(admin, "bench_seed")
        if out["rows_in_app"] != ROWS or out["rows_in_seed"] != ROWS:
            raise BenchError(f"expected {ROWS} rows, found {out['rows_in_app']} in app, {out['rows_in_seed']} in the seed")
        out["database_size"] = admin.execute("SELECT pg_size_pretty(pg_database_size('app'))")[0][0]
        dump_file = os.path.join(directory, "seed.dump")
        _run([os.path.join(stackbench.PG_BIN, "pg_dump"), *admin.libpq_args("bench_seed"), "-Fc", "-f", dump_file],
             "pg_dump")
        out["dump_bytes"] = os.path.getsize(dump_file)
        admin.execute("CREATE DATABASE bench_truncate TEMPLATE bench_seed")
        for name in ("bench_migrate", "bench_dump", "bench_copy"):
            admin.execute(f"CREATE DATABASE {name}")

        def migrate(i):
            t0 = time.perf_counter()
            admin.execute("DROP DATABASE bench_migrate", "CREATE DATABASE bench_migrate")
            t1 = time.perf_counter()
            _run([psql, *admin.libpq_args("bench_migrate"), "-v", "ON_ERROR_STOP=1", "-q", "-f", migration], "migration")
            t2 = time.perf_counter()
            out["migrate_script"].append({"total": t2 - t1, "round": i})
            return t2 - t0

        def truncate(i):
            # Untimed: the tables are filled again first, so each TRUNCATE has rows to remove.
            admin.execute("DROP DATABASE bench_truncate", "CREATE DATABASE bench_truncate TEMPLATE bench_seed")
            t0 = time.perf_counter()
            admin.execute("TRUNCATE " + ", ".join(f"t{t:02d}" for t in range(1, TABLES + 1)) + " RESTART IDENTITY CASCADE",
                          dbname="bench_truncate")
            return time.perf_counter() - t0

        def dump(i):
            t0 = time.perf_counter()
            admin.execute("DROP DATABASE bench_dump", "CREATE DATABASE bench_dump")
            t1 = time.perf_counter()
            _run([os.path.join(stackbench.PG_BIN, "pg_restore"), *admin.libpq_args("bench_dump"), "--exit-on-error",
                  dump_file], "pg_restore")
            t2 = time.perf_counter()
            out["dump_restore_only"].append({"total": t2 - t1, "round": i})
            return t2 - t0

        def dirty():
            # What a test leaves behind: a changed row and a new one.
            admin.execute("UPDATE t02 SET name = 'changed' WHERE id = 1",
                          "INSERT INTO t03 (code, name) VALUES ('test-' || clock_timestamp(), 'by a test')", dbname="app")

        def muster_restore(i):
            time.sleep(1.0)  # the spare is made in the background meanwhile, as between two tests
            dirty()
            rc, text, elapsed = project.run("db", "restore", "db", capture=True, timeout=120)
            if rc != 0:
                raise BenchError(f"muster db restore exited {rc}: {project.tail()}")
            out["muster_output"] = text.decode(errors="replace").strip()
            time.sleep(1.0)  # the next spare is made before another contender runs, so it disturbs none
            return elapsed

        def muster_back_to_back(i):
            time.sleep(1.0)
            rc, _, _ = project.run("db", "restore", "db", timeout=120)
            if rc != 0:
                raise BenchError(f"muster db restore exited {rc}")
            rc, _, elapsed = project.run("db", "restore", "db", timeout=120)  # its spare is still being made
            if rc != 0:
                raise BenchError(f"muster db restore (back to back) exited {rc}")
            time.sleep(1.0)
            return elapsed

        def copy(strategy):
            def run(i):
                t0 = time.perf_counter()
                admin.execute("DROP DATABASE bench_copy")
                t1 = time.perf_counter()
                admin.execute(f"CREATE DATABASE bench_copy TEMPLATE bench_seed STRATEGY {strategy}")
                t2 = time.perf_counter()
                out["drop"].append({"total": t1 - t0, "round": i})
                out["create_" + strategy.lower()].append({"total": t2 - t1, "round": i})
                return t2 - t0
            return run

        contenders = [("migrate", migrate), ("truncate", truncate), ("dump", dump), ("muster", muster_restore),
                      ("muster_back_to_back", muster_back_to_back), ("copy_wal_log", copy("WAL_LOG")),
                      ("copy_file_copy", copy("FILE_COPY"))]
        # One unrecorded round first: caches warm, every path exercised once.
        for name, fn in contenders:
            fn(-1)
        for key in ("migrate_script", "dump_restore_only", "drop", "create_wal_log", "create_file_copy"):
            out[key] = []
        for i in range(runs):
            log(f"restore round {i + 1}/{runs}")
            shift = i % len(contenders)
            for name, fn in contenders[shift:] + contenders[:shift]:
                try:
                    elapsed = fn(i)
                except Exception as error:
                    out["errors"].append(f"{name} run {i + 1}: {error}")
                    log(f"  {name}: FAILED: {error}")
                    continue
                out[name].append({"total": elapsed, "round": i})
                log(f"  {name:20s} {elapsed * 1000:8.1f} ms")
        # The restored database holds the migrated rows, and the test's changes are gone.
        time.sleep(1.0)
        out["rows_after_restore"] = _count_rows(admin, "app")
        out["changed_rows_after_restore"] = admin.execute("SELECT count(*) FROM t02 WHERE name = 'changed'",
                                                          dbname="app")[0][0]
        out["databases_at_end"] = [r[0] for r in admin.execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate OR datname LIKE '%muster%' ORDER BY 1")]
    finally:
        project.remove()
        shutil.rmtree(directory, ignore_errors=True)
    return out
