"""The `cold` part: a cold `muster up -d` of a Postgres-only stack made from the
cached cluster template (a spare copy ready, and with spares off), against the same
with MUSTER_NO_TEMPLATE=1 (initdb), against a warm start and against the ideal that
runs initdb; the template's first making once; and the seed project's 15-service
layout (13 Postgres, Redis, Kafka) cold, with spares, without, and with initdb.

Every cold run uses a fresh project folder (so nothing of an earlier run is
reused but the template cache). Nothing is deleted while the part runs: every
project is brought down with `muster down`, and the folders go when the part
ends. On this machine's file system (ext4 without a journal) files made beside a
cluster deleted in the last minute cost 0.2-0.4 ms each (the inode search walks past
the freed inodes); the sequences (coldseq.py) measure the starts that follow a deletion."""

import os
import shutil
import subprocess
import time

import coldseq
import probes
import procs
from musterstack import Project
import stackbench
from stackbench import BenchError

PG_ONLY = """# written by scripts/bench: a Postgres-only stack
name: cold
services:
  db:
    engine: postgres
    port: auto
"""


def seed_layout_yaml():
    """The seed project's layout: 13 Postgres servers, Redis and Kafka (Tansu), all port: auto."""
    text = "# written by scripts/bench: the seed project's 15-service layout\nname: seed\nservices:\n"
    for i in range(1, 14):
        text += f"  pg{i:02d}:\n    engine: postgres\n    port: auto\n"
    text += "  cache:\n    engine: redis\n    port: auto\n"
    text += "  bus:\n    engine: kafka\n    implementation: tansu\n    port: auto\n"
    return text


class IdealPostgres:
    """The harness's own Postgres: initdb (cold) then the server, polled every 2 ms
    with a libpq connection and SELECT 1 (the same argv as muster's)."""

    def __init__(self, root):
        self.dir = os.path.join(root, "ideal-pg")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        procs.add_root(self.dir)
        self.pgdata = os.path.join(self.dir, "pgdata")
        self.pgsock = os.path.join(self.dir, "pgsock")
        stackbench.make_pg_dir(self.pgsock)
        self.proc = None
        self.port = None
        procs.add_cleanup(self.kill)

    def up(self, cold):
        if cold:  # a new folder, not a deleted one (see the module's text)
            self.pgdata = os.path.join(self.dir, f"pgdata-{time.monotonic_ns()}")
        stackbench.make_pg_dir(self.pgdata)
        self.port = procs.free_port()
        uid, gid = stackbench.pg_ids()
        log = open(os.path.join(self.dir, "db.log"), "ab")
        try:
            t0 = time.perf_counter()
            initdb_s = None
            if cold or not os.path.exists(self.pgdata + "/PG_VERSION"):
                init = subprocess.run(stackbench.initdb_argv(self.pgdata), user=uid, group=gid, extra_groups=[],
                                      env=stackbench.pg_env(self.pgdata), cwd=self.pgdata, stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True, timeout=120)
                if init.returncode != 0:
                    raise BenchError(f"ideal: initdb exited with {init.returncode}")
                initdb_s = time.perf_counter() - t0
            self.proc = procs.spawn(stackbench.postgres_argv(self.pgdata, self.port, self.pgsock), user=uid, group=gid,
                                    extra_groups=[], env=stackbench.pg_env(self.pgdata), cwd=self.pgdata, stdout=log,
                                    stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while not probes.postgres_ready(self.port):
                if self.proc.poll() is not None:
                    raise BenchError(f"ideal: postgres exited with {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise BenchError("ideal: postgres not ready after 60 s")
                time.sleep(stackbench.POLL)
            return {"total": time.perf_counter() - t0, "initdb": initdb_s}
        finally:
            log.close()

    def down(self):
        if self.proc is None:
            return
        pid = self.proc.pid
        self.proc.send_signal(2)  # SIGINT: fast shutdown, as muster stops it
        try:
            self.proc.wait(timeout=60)
        finally:
            procs.kill_group(pid)
            procs.forget_group(pid)
            self.proc = None

    def kill(self):
        if self.proc is not None:
            procs.kill_group(self.proc.pid)


def _fresh(binary, env, parent, label, round_no, yaml, name, extra_env):
    directory = os.path.join(parent, f"{label}-{round_no}-{time.monotonic_ns()}")
    return Project(binary, directory, name, yaml, env, extra_env)


def _spares(cache):
    """How many spare clusters the cache holds (over its templates)."""
    count = 0
    for name in os.listdir(cache) if os.path.isdir(cache) else []:
        if name.endswith(".spares"):
            count += sum(1 for spare in os.listdir(os.path.join(cache, name)) if spare.startswith("spare-"))
    return count


def _wait_for_spares(cache, count, limit=60):
    """Waits (not timed) while a running stack copies its spares; True when there are `count`."""
    deadline = time.monotonic() + limit
    while _spares(cache) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return _spares(cache) >= count


def cold_start(binary, env, root, runs, quick, log):
    """Returns the raw figures of the cold part."""
    base = os.path.join(root, "cold")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    procs.add_root(base)
    # Template caches of this run (MUSTER_TEMPLATE_DIR): one for the Postgres-only
    # stack, one for the seed layout, so one's runs never take the other's spares.
    templates = os.path.join(base, "templates")
    seed_templates = os.path.join(base, "templates-seed")
    template_env = {"MUSTER_TEMPLATE_DIR": templates}
    no_spares_env = {"MUSTER_TEMPLATE_DIR": templates, "MUSTER_TEMPLATE_SPARES": "0"}
    initdb_env = {"MUSTER_TEMPLATE_DIR": templates, "MUSTER_NO_TEMPLATE": "1"}
    seed_env = {"MUSTER_TEMPLATE_DIR": seed_templates}
    seed_no_spares_env = {"MUSTER_TEMPLATE_DIR": seed_templates, "MUSTER_TEMPLATE_SPARES": "0"}
    out = {"pg": {"template": [], "no_spares": [], "initdb": [], "warm": [], "ideal_cold": [], "ideal_warm": []},
           "seed": {"template": [], "no_spares": [], "initdb": []}, "first_making": None, "errors": [], "leaks": [],
           "spares_missing": [], "template_dir": "MUSTER_TEMPLATE_DIR set to a folder of the run, empty at the start"}
    projects = []  # brought down as they go, deleted when the part ends

    def record_down(project, label, round_no):
        elapsed, left, busy = project.down(volumes=False)
        if left or busy:
            out["leaks"].append(f"{label} run {round_no + 1}: left {left} {busy}")
        return elapsed

    def fresh(label, i, yaml, name, extra):
        project = _fresh(binary, env, base, label, i, yaml, name, extra)
        projects.append(project)
        return project

    def keep_spares(cache, count, label, i):
        """Before the stack goes down: let it copy the spares the next run of its kind takes."""
        if not _wait_for_spares(cache, count):
            out["spares_missing"].append(f"{label} run {i + 1}: {_spares(cache)} of {count} spares after 60 s")

    # The template's first making: the cache is empty, so this cold up makes it.
    for cache in (templates, seed_templates):
        shutil.rmtree(cache, ignore_errors=True)
    project = fresh("first", 0, PG_ONLY, "cold", template_env)
    try:
        out["first_making"] = project.up()
        keep_spares(templates, 1, "first making", 0)
    except Exception as error:
        out["errors"].append(f"first making: {error}")
    finally:
        record_down(project, "first making", 0)
    log(f"  template's first making (cache empty): {_ms(out['first_making'])}")

    warm = Project(binary, os.path.join(base, "warm"), "cold", PG_ONLY, env, no_spares_env)
    ideal = IdealPostgres(base)
    try:
        warm.up()
        warm.down(volumes=False)  # primed: its data stays for the warm runs
        ideal.up(cold=True)
        ideal.down()
        # The seed layout's template and its 13 spares, made once before the rounds.
        project = fresh("seed-prime", 0, seed_layout_yaml(), "seed", seed_env)
        try:
            project.up(timeout="180s")
            keep_spares(seed_templates, 13, "seed priming", 0)
        finally:
            record_down(project, "seed priming", 0)

        def pg_cold(extra, label, spares):
            def run(i):
                project = fresh(label, i, PG_ONLY, "cold", extra)
                try:
                    result = {"total": project.up(), "round": i}
                    if spares:
                        keep_spares(templates, 1, label, i)
                    return result
                finally:
                    record_down(project, label, i)
            return run

        def pg_warm(i):
            try:
                return {"total": warm.up(), "round": i}
            finally:
                _, left, busy = warm.down(volumes=False)
                if left or busy:
                    out["leaks"].append(f"warm run {i + 1}: left {left} {busy}")

        def pg_ideal(cold):
            def run(i):
                try:
                    result = ideal.up(cold=cold)
                finally:
                    ideal.down()
                result["round"] = i
                return result
            return run

        def seed(extra, label, spares):
            def run(i):
                project = fresh(label, i, seed_layout_yaml(), "seed", extra)
                try:
                    total = project.up(timeout="180s")
                    # when each service was found ready, from the supervisor's own status (not timed)
                    ready = {e["name"]: e.get("ready_in_s") for e in project.ps().get("services", [])}
                    if spares:
                        keep_spares(seed_templates, 13, label, i)
                    return {"total": total, "round": i, "ready_in_s": ready}
                finally:
                    record_down(project, label, i)
            return run

        contenders = [("pg", "template", pg_cold(template_env, "tpl", True)),
                      ("pg", "no_spares", pg_cold(no_spares_env, "tpl-nospare", False)),
                      ("pg", "initdb", pg_cold(initdb_env, "initdb", False)), ("pg", "warm", pg_warm),
                      ("pg", "ideal_cold", pg_ideal(True)), ("pg", "ideal_warm", pg_ideal(False)),
                      ("seed", "template", seed(seed_env, "seed-tpl", True)),
                      ("seed", "no_spares", seed(seed_no_spares_env, "seed-nospare", False)),
                      ("seed", "initdb", seed(initdb_env, "seed-initdb", False))]
        for i in range(runs):
            log(f"cold round {i + 1}/{runs}")
            shift = i % len(contenders)
            for group, key, fn in contenders[shift:] + contenders[:shift]:
                try:
                    result = fn(i)
                except Exception as error:
                    out["errors"].append(f"{group} {key} run {i + 1}: {error}")
                    log(f"  {group} {key}: FAILED: {error}")
                    continue
                out[group][key].append(result)
                log(f"  {group:4s} {key:10s} {_ms(result['total'])}")
        log("cold: the sequences users run, deletions included")
        out["sequences"] = coldseq.sequences(binary, env, base, log)
    finally:
        try:
            warm.remove()
        finally:
            ideal.down()
            for project in projects:
                project.remove()
            shutil.rmtree(ideal.dir, ignore_errors=True)
            for cache in (templates, seed_templates):
                shutil.rmtree(cache, ignore_errors=True)
    return out


def _ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

