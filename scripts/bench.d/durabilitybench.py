"""The `durability` part: a Postgres service with `durability: fast` (the default:
`fsync=off`, `full_page_writes=off`, `synchronous_commit=on`) against `durability:
full` (Postgres's own defaults), side by side in one run of the same binary. The
two modes' stack files differ only in their `durability:` line. Each round runs
both modes, one after the other, the order flipping every round; per mode:

- the sequence of issue 24: a fresh project whose `migrate` task runs the restore
  part's migration (50 tables, 100 000 rows) with `snapshot: { after: migrate }`;
  `up -d`, `muster db snapshot`, `muster db restore`, `muster db clone --count 4`
  and `muster down`, each timed, and the Postgres log's shutdown checkpoint read
  back (buffers written, files synced, its write and sync times);
- the same project up again (warm: the migration sees its tables and does nothing,
  the snapshot is taken again), then `muster db restore` RESTORES times back to
  back, each timed, and `muster down`;
- a Postgres-only stack: a cold `up -d` (a fresh folder, a spare cluster of the
  warm template cache ready) and a warm `up -d` (its data folder exists), each
  followed by `muster down`.

Every `down` is checked: no process of the service left (the Postgres processes
are found by their data folder, which lies outside the project when muster runs as
root) and no port listening. Before each mode's turn the harness calls sync()
(untimed), so the writes one mode left in the page cache are not flushed on the
other's time. As in the cold part, nothing is deleted while the part runs (on this
machine's ext4, which has no journal, files made beside inodes freed in the last
minute cost more): the projects go with `muster down --volumes` when the part ends."""

import glob
import os
import re
import shutil
import statistics
import time

import coldbench
import procs
import restorebench
from musterstack import Project
import stackbench
from stackbench import BenchError

MODES = ["fast", "full"]
RESTORES = 10
CLONES = 4

# psql: a migration that finds its tables does nothing, as a migration tool does on a
# migrated database, so the same project can come up again.
GUARD = """SELECT to_regclass('public.t50') IS NOT NULL AS migrated \\gset
\\if :migrated
\\echo already migrated
\\quit
\\endif
"""


def migrated_stack_yaml(migration_path, mode):
    psql = os.path.join(stackbench.PG_BIN, "psql")
    return f"""# written by scripts/bench: the durability benchmark, issue 24's sequence
name: durability
services:
  db:
    engine: postgres
    port: auto
    databases: [app]
    snapshot: {{ after: migrate }}
    durability: {mode}
  migrate:
    command: ["{psql}", "${{db.url}}", "-v", "ON_ERROR_STOP=1", "-q", "-f", "{migration_path}"]
    depends_on: {{ db: ready }}
"""


def postgres_only_yaml(mode):
    return f"""# written by scripts/bench: a Postgres-only stack
name: durable
services:
  db:
    engine: postgres
    port: auto
    durability: {mode}
"""


CHECKPOINT = re.compile(r"checkpoint complete: wrote (\d+) buffers.*?write=([\d.]+) s, sync=([\d.]+) s, "
                        r"total=([\d.]+) s; sync files=(\d+)")


def _log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _log_since(path, offset):
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def shutdown_checkpoint(text):
    """The shutdown checkpoint in a slice of the Postgres log: buffers, write and sync
    seconds, files synced; and whether the stop went on to an immediate shutdown."""
    found = {"immediate": "immediate shutdown request" in text}
    start = text.find("checkpoint starting: shutdown")
    if start >= 0:
        match = CHECKPOINT.search(text, start)
        if match:
            found.update(buffers=int(match.group(1)), write_s=float(match.group(2)), sync_s=float(match.group(3)),
                         total_s=float(match.group(4)), sync_files=int(match.group(5)))
    return found


class Stack:
    """A Project with the checks this part makes after each `muster down`."""

    def __init__(self, binary, env, directory, name, yaml, extra_env):
        self.project = Project(binary, directory, name, yaml, env, extra_env)
        self.db_log = os.path.join(self.project.state_dir, "logs", "db.log")
        self.data_link = os.path.join(self.project.state_dir, "data", "db")
        self.data_dir = None  # where the cluster lies (outside the project when muster runs as root)

    def run(self, *args, what=None, timeout=300):
        rc, _, elapsed = self.project.run(*args, timeout=timeout)
        if rc != 0:
            raise BenchError(f"muster {what or ' '.join(args)} exited {rc}: {self.project.tail()}")
        return elapsed

    def up(self):
        elapsed = self.project.up(timeout="300s")
        self.project.ps()
        self.data_dir = os.path.realpath(self.data_link)
        return elapsed

    def down(self, leaks, label):
        """`muster down`, timed; then nothing of it may be left. Returns (seconds, the
        Postgres log written during the down)."""
        offset = _log_size(self.db_log)
        elapsed, left, busy = self.project.down(volumes=False)
        postgres_left = cluster_processes(self.data_dir) if self.data_dir else []
        if left or busy or postgres_left:
            leaks.append(f"{label}: left {left} {busy} postgres {postgres_left}")
        return elapsed, _log_since(self.db_log, offset)

    def remove(self):
        self.project.remove()


def _stats(values):
    return statistics.median(values) if values else None


def durability(binary, env, root, runs, quick, log):
    """Returns the raw figures of the durability part."""
    base = os.path.join(root, "durability")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    procs.add_root(base)
    migration = os.path.join(base, "migration.sql")
    with open(migration, "w") as handle:
        handle.write(GUARD + restorebench.migration_sql())
    os.chmod(migration, 0o644)
    templates = os.path.join(base, "templates")
    template_env = {"MUSTER_TEMPLATE_DIR": templates}
    restores = 5 if quick else RESTORES
    rounds = runs if quick else 2 * runs  # a round of both modes takes about half a minute
    per_mode = lambda: {"seq_up": [], "snapshot": [], "restore": [], "clone": [], "down": [], "checkpoint": [],
                        "up_again": [], "restores": [], "restores_total": [], "down_after_restores": [],
                        "cold_up": [], "cold_down": [], "warm_up": [], "warm_down": [], "sync_before": [],
                        "failures": [], "recovered": []}
    out = {"rounds": rounds, "tables": restorebench.TABLES, "rows": restorebench.ROWS, "restores_per_round": restores,
           "clones": CLONES, "modes": {mode: per_mode() for mode in MODES}, "errors": [], "leaks": [], "spares_missing": [],
           "checks": []}
    stacks = []  # brought down as they go, deleted when the part ends

    def stack(label, yaml, name):
        made = Stack(binary, env, os.path.join(base, f"{label}-{time.monotonic_ns()}"), name, yaml, template_env)
        stacks.append(made)
        return made

    def spare_ready(label):
        """A cold `up -d` as users have it: the template cache holds a spare cluster."""
        if not coldbench._wait_for_spares(templates, 1):
            out["spares_missing"].append(f"{label}: no spare after 60 s")

    def sequence(mode, i, figures):
        """Issue 24's sequence, then the same project up again for restores back to back.
        A step that fails is recorded and the sequence goes on, as a user would: the
        `down` after it is still measured."""
        label = f"{mode} round {i + 1}"
        failures = figures["failures"]

        def step(key, *args, entry=None):
            try:
                elapsed = s.up() if key in ("seq_up", "up_again") else s.run(*args)
            except Exception as error:
                failures.append({"round": i, "step": key, "error": _last_line(str(error))})
                log(f"  {mode} {key}: FAILED: {_last_line(str(error))}")
                return None
            figures[key].append(dict(entry or {}, total=elapsed, round=i))
            return elapsed

        spare_ready(label)
        s = stack(f"seq-{mode}", migrated_stack_yaml(migration, mode), "durability")
        done = {}
        try:
            done["up"] = step("seq_up")
            if done["up"] is not None:
                spare_ready(label + ", after up")  # made while the migration ran; untimed
                done["snapshot"] = step("snapshot", "db", "snapshot", "db")
                done["restore"] = step("restore", "db", "restore", "db")
                done[f"clone ×{CLONES}"] = step("clone", "db", "clone", "db", "--count", str(CLONES))
        finally:
            elapsed, text = s.down(out["leaks"], f"{label}, the sequence")
        figures["down"].append({"total": elapsed, "round": i})
        checkpoint = shutdown_checkpoint(text)
        checkpoint["round"] = i
        figures["checkpoint"].append(checkpoint)
        log(f"  {mode}: " + ", ".join(f"{k} {_ms(v) if v is not None else 'FAILED'}" for k, v in done.items())
            + f", down {_ms(elapsed)}; shutdown checkpoint: {_checkpoint_text(checkpoint)}")

        times = []
        up_again = None
        offset = _log_size(s.db_log)
        try:
            up_again = step("up_again")
            recovery = _log_since(s.db_log, offset)
            figures["recovered"].append({"round": i, "crash_recovery": "automatic recovery in progress" in recovery})
            if up_again is None:
                return
            for k in range(restores):
                times.append(step("restores", "db", "restore", "db", entry={"index": k}))
            if None not in times:
                figures["restores_total"].append({"total": sum(times), "round": i})
            admin = restorebench.Admin(s.project.postgres_socket_dir("db"), s.project.port("db"))
            rows = restorebench._count_rows(admin, "app")
            clones = admin.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'app\\_gw%'")[0][0]
            out["checks"].append({"mode": mode, "round": i, "rows": rows, "clones": clones})
            if rows != restorebench.ROWS or clones != CLONES:
                failures.append({"round": i, "step": "check",
                                 "error": f"after the restores app holds {rows} rows and there are {clones} clones"})
        finally:
            elapsed, _ = s.down(out["leaks"], f"{label}, after the restores")
            figures["down_after_restores"].append({"total": elapsed, "round": i})
            log(f"  {mode}: up again {_ms(up_again)}"
                + (" (crash recovery)" if figures["recovered"] and figures["recovered"][-1]["crash_recovery"] else "")
                + f", {len(times)} restores back to back " + "/".join(_ms(t) if t is not None else "FAILED" for t in times)
                + f", down {_ms(elapsed)}")

    def postgres_only(mode, i, figures, warm):
        label = f"{mode} round {i + 1}"
        spare_ready(label)
        s = stack(f"cold-{mode}", postgres_only_yaml(mode), "durable")
        try:
            figures["cold_up"].append({"total": s.up(), "round": i})
            spare_ready(label + ", before the cold stack's down")  # the next cold start takes one
        finally:
            elapsed, _ = s.down(out["leaks"], f"{label}, cold")
        figures["cold_down"].append({"total": elapsed, "round": i})
        try:
            figures["warm_up"].append({"total": warm.up(), "round": i})
        finally:
            elapsed, _ = warm.down(out["leaks"], f"{label}, warm")
        figures["warm_down"].append({"total": elapsed, "round": i})
        log(f"  {mode}: Postgres-only cold up {_ms(figures['cold_up'][-1]['total'])}, "
            f"warm up {_ms(figures['warm_up'][-1]['total'])}, down {_ms(elapsed)}")

    try:
        # The template's first making, and the warm projects' data: not recorded.
        warm = {}
        for mode in MODES:
            warm[mode] = stack(f"warm-{mode}", postgres_only_yaml(mode), "durable")
            warm[mode].up()  # cold: the first makes the template, the second takes a spare
            spare_ready(f"{mode} priming")  # a stack that started from the template copies its spare
            warm[mode].down(out["leaks"], f"{mode} priming")
        for i in range(rounds):
            log(f"durability round {i + 1}/{rounds}")
            for mode in (MODES if i % 2 == 0 else MODES[::-1]):
                figures = out["modes"][mode]
                t0 = time.perf_counter()
                os.sync()
                figures["sync_before"].append({"total": time.perf_counter() - t0, "round": i})
                for what, body in (("sequence", lambda: sequence(mode, i, figures)),
                                   ("Postgres-only", lambda: postgres_only(mode, i, figures, warm[mode]))):
                    try:
                        body()
                    except Exception as error:
                        out["errors"].append(f"{mode} {what} round {i + 1}: {_last_line(str(error))}")
                        log(f"  {mode} {what}: FAILED: {error}")
    finally:
        for s in stacks:
            s.remove()
        shutil.rmtree(templates, ignore_errors=True)
    # Nothing of any cluster of the part is left, its folder deleted or not.
    left = [f"{pid} {cmd}" for pid, cmd in procs.processes_under(base)]
    for s in stacks:
        left += [f"{pid} {cmd}" for pid, cmd in cluster_processes(s.data_dir)] if s.data_dir else []
    if left:
        out["leaks"].append(f"at the end of the part: {left}")
    return out


def cluster_processes(data_dir):
    """Live processes of the cluster in data_dir: the postmaster names it on its command
    line, its children work in it (their cwd reads `DIR (deleted)` once it is gone)."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        pid = int(path.split("/")[2])
        try:
            with open(path, "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if (cwd == data_dir or cwd.startswith(data_dir + "/") or cwd.startswith(data_dir + " ")
                or f" {data_dir} " in f" {cmd} ") and procs.alive(pid):
            found.append((pid, cmd[:160]))
    return found


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][-300:] if lines else text


def _checkpoint_text(c):
    if "buffers" not in c:
        text = "did not complete"
    else:
        text = (f"{c['buffers']} buffers, {c['sync_files']} files synced, write {c['write_s']:.3f} s, "
                f"sync {c['sync_s']:.3f} s")
    return text + (" (then immediate shutdown)" if c.get("immediate") else "")


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"
