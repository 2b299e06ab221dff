"""The `cache` part: a CI-like cold start (a fresh project folder, nothing of an
earlier run but the snapshot cache) of a stack with a Postgres, a migration task of
50 tables and 100 000 rows (the restore part's, about 3 s here) and a keyed
snapshot after it (`snapshot: { after: migrate, key: [migrations/*.sql] }`),
side by side in one run, alternating:

- migrate:  `muster up -d` without a cache: the migration runs, the snapshot is taken
- hit:      `muster up -d --cache DIR`, DIR holding the migrated cluster for the key
            (made once before the rounds): the cluster is copied, the task skipped
- miss:     `muster up -d --cache DIR` with DIR empty: the migration runs, and the
            cluster is copied into the cache (what the first CI job pays)

Each run checks what it must: the migrated rows are there, and the task ran (or was
skipped) as expected. Projects go down with `muster down` and their folders are
removed when the part ends (deletions stall this disk: see the cold part)."""

import json
import os
import shutil
import time

from musterstack import Project
from restorebench import Admin, migration_sql
import stackbench
from stackbench import BenchError


def stack_yaml():
    psql = os.path.join(stackbench.PG_BIN, "psql")
    return f"""# written by scripts/bench: the snapshot cache benchmark
name: cache
services:
  db:
    engine: postgres
    port: auto
    databases: [app]
    snapshot: {{ after: migrate, key: [migrations/*.sql] }}
  migrate:
    command: ["sh", "-c", "echo ran >> runs.txt && exec {psql} \\"$$DATABASE_URL\\" -v ON_ERROR_STOP=1 -q -f migrations/001.sql"]
    env: {{ DATABASE_URL: "${{db.url}}" }}
    depends_on: {{ db: ready }}
"""


def _project(binary, env, base, label, round_no, extra_env):
    directory = os.path.join(base, f"{label}-{round_no}-{time.monotonic_ns()}")
    project = Project(binary, directory, "cache", stack_yaml(), env, extra_env)
    os.makedirs(os.path.join(directory, "migrations"), exist_ok=True)
    with open(os.path.join(directory, "migrations", "001.sql"), "w") as handle:
        handle.write(migration_sql())
    return project


def _runs(project):
    try:
        with open(os.path.join(project.dir, "runs.txt")) as handle:
            return len(handle.read().split())
    except OSError:
        return 0


def _check(project, label, skipped):
    """The migrated rows are there; the task was skipped or ran, as this contender must."""
    status = project.ps()
    migrate = next((s for s in status.get("services", []) if s["name"] == "migrate"), {})
    if bool(migrate.get("skipped")) != skipped or (_runs(project) == 0) != skipped:
        raise BenchError(f"{label}: the task was {'not ' if skipped else ''}expected to be skipped: "
                         f"{json.dumps(migrate)}, runs {_runs(project)}")
    rows = Admin(project.postgres_socket_dir("db"), project.port("db")).execute("SELECT count(*) FROM t50", dbname="app")[0][0]
    if rows != 2000:
        raise BenchError(f"{label}: t50 has {rows} rows, not 2000")


def _on_disk(path):
    """The room a file takes (a sparse WAL file takes far less than its length)."""
    return os.lstat(path).st_blocks * 512


def _copied_bytes(primed):
    """What a hit copies: the entry but the folders it links (`shared` in its description)."""
    folder = os.path.join(primed, "postgres")
    total = 0
    for name in os.listdir(folder):
        if not name.endswith(".json") or name.startswith("."):
            continue
        with open(os.path.join(folder, name)) as handle:
            shared = json.load(handle).get("shared") or []
        cluster = os.path.join(folder, name[:-5])
        linked = {os.path.join(cluster, path) for path in shared}
        for d, _, fs in os.walk(cluster):
            if not any(d == l or d.startswith(l + os.sep) for l in linked):
                total += sum(_on_disk(os.path.join(d, f)) for f in fs)
    return total


def cache(binary, env, root, runs, quick, log):
    """Returns the raw figures of the cache part."""
    base = os.path.join(root, "cache")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    templates = os.path.join(base, "templates")
    primed = os.path.join(base, "primed-cache")
    common = {"MUSTER_TEMPLATE_DIR": templates}
    out = {"migrate": [], "hit": [], "miss": [], "priming": None, "cache_bytes": None, "errors": [], "leaks": [],
           "rounds": runs}
    projects = []

    def fresh(label, i, extra):
        project = _project(binary, env, base, label, i, dict(common, **extra))
        projects.append(project)
        return project

    def record_down(project, label, i):
        _, left, busy = project.down(volumes=False)
        if left or busy:
            out["leaks"].append(f"{label} run {i + 1}: left {left} {busy}")

    try:
        # The template cache warm (as on any machine that ran muster before), then the cache primed once.
        project = fresh("prime", 0, {"MUSTER_CACHE_DIR": primed})
        try:
            out["priming"] = project.up(timeout="300s")
            _check(project, "priming", skipped=False)
        finally:
            record_down(project, "priming", 0)
        out["cache_bytes"] = sum(_on_disk(os.path.join(d, f)) for d, _, fs in os.walk(primed) for f in fs)
        out["cache_copied_bytes"] = _copied_bytes(primed)
        log(f"  primed the cache in {out['priming'] * 1000:.0f} ms ({out['cache_bytes'] / 1e6:.0f} MB)")

        def migrate(i):
            project = fresh("migrate", i, {})
            try:
                total = project.up(timeout="300s")
                _check(project, "migrate", skipped=False)
                return {"total": total, "round": i}
            finally:
                record_down(project, "migrate", i)

        def hit(i):
            project = fresh("hit", i, {"MUSTER_CACHE_DIR": primed})
            try:
                total = project.up(timeout="300s")
                _check(project, "hit", skipped=True)
                return {"total": total, "round": i}
            finally:
                record_down(project, "hit", i)

        def miss(i):
            empty = os.path.join(base, f"empty-cache-{i}-{time.monotonic_ns()}")
            project = fresh("miss", i, {"MUSTER_CACHE_DIR": empty})
            try:
                total = project.up(timeout="300s")
                _check(project, "miss", skipped=False)
                return {"total": total, "round": i}
            finally:
                record_down(project, "miss", i)

        contenders = [("migrate", migrate), ("hit", hit), ("miss", miss)]
        for i in range(runs):
            log(f"cache round {i + 1}/{runs}")
            shift = i % len(contenders)
            for key, fn in contenders[shift:] + contenders[:shift]:
                try:
                    result = fn(i)
                except Exception as error:
                    out["errors"].append(f"{key} run {i + 1}: {error}")
                    log(f"  {key}: FAILED: {error}")
                    continue
                out[key].append(result)
                log(f"  {key:8s} {result['total'] * 1000:.0f} ms")
    finally:
        for project in projects:
            project.remove()
        shutil.rmtree(base, ignore_errors=True)
    return out
