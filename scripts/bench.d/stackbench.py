"""The bench stack (Postgres, Redis, Tansu, an HTTP app and a log-ready worker)
and the four ways of bringing it up that the harness compares:

- Ideal: the harness starts every server itself, independent ones in parallel,
  dependents the moment their dependencies answer, polling every 2 ms with
  protocol checks. The physical limit.
- Muster: `muster up -d` / `muster down` on the same stack written as YAML.
- CI script: what a typical CI job does: servers in the background, then
  `until <check>; do sleep 1; done` loops.
- supervisord: the same programs under supervisord, with the same loops for
  readiness and `supervisorctl start` for the dependents.
"""

import datetime
import json
import os
import pwd
import shutil
import signal
import subprocess
import threading
import time

import probes
import procs

POLL = 0.002  # the ideal polls every 2 ms
PYTHON3 = shutil.which("python3", path="/usr/bin:/bin") or "python3"
WORKER_CMD = "echo ready; exec sleep 1000"


class BenchError(RuntimeError):
    pass


def parse_time(text):
    """RFC 3339 UTC with microseconds -> seconds since the epoch."""
    stamp = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


class EventTail:
    """Reads events.jsonl incrementally from where it stood when created."""

    def __init__(self, path):
        self.path = path
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0
        self.partial = b""
        self.events = []

    def poll(self):
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if line.strip():
                self.events.append(json.loads(line))

    def wait_for(self, match, timeout):
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            for event in self.events:
                if match(event):
                    return event
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.001)


def postgres_bin():
    versions = sorted((int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit()), reverse=True)
    for version in versions:
        path = f"/usr/lib/postgresql/{version}/bin"
        if os.access(path + "/postgres", os.X_OK):
            return path
    raise BenchError("Postgres not found under /usr/lib/postgresql (run scripts/install-deps)")


PG_BIN = None
PG_USER = "postgres"


def pg_ids():
    entry = pwd.getpwnam(PG_USER)
    return entry.pw_uid, entry.pw_gid


def make_pg_dir(path, mode=0o700):
    os.makedirs(path, exist_ok=True)
    uid, gid = pg_ids()
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def initdb_argv(data_dir):
    # The same flags as muster's PostgresEngine.initdb (no password: host auth trust).
    return [PG_BIN + "/initdb", "-D", data_dir, "-U", "postgres", "-E", "UTF8", "--no-locale",
            "--auth-local=trust", "--auth-host=trust", "--no-sync"]


def postgres_argv(data_dir, port, socket_dir):
    # The same argv as muster's PostgresEngine (max_connections 200 is its default).
    return [PG_BIN + "/postgres", "-D", data_dir, "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={socket_dir}",
            "-c", "max_connections=200"]


def redis_argv(port, data_dir):
    return [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--daemonize", "no", "--dir", data_dir, "--save", "", "--appendonly", "no", "--protected-mode", "yes"]


def tansu_argv(port):
    listener = f"tcp://127.0.0.1:{port}"
    return [os.environ["MUSTER_TANSU"], "broker", "--listener-url", listener, "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/"]


def web_argv(port):
    return [PYTHON3, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


def prepare_www(directory):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "index.html"), "w") as handle:
        handle.write("ok\n")


def pg_env(data_dir):
    env = dict(os.environ)
    env.update({"PGDATA": data_dir, "LC_ALL": "C"})
    return env


def wipe_pg_data(data_dir):
    shutil.rmtree(data_dir, ignore_errors=True)


class Contender:
    name = "?"
    label = "?"

    def __init__(self, root):
        self.dir = os.path.join(root, self.name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        procs.add_root(self.dir)

    def leaks(self, pids=(), ports=()):
        return procs.leak_check(self.dir, pids, ports)

    def prepare_server_dirs(self):
        """Data, socket and web folders for contenders that run the servers themselves."""
        self.pgdata = os.path.join(self.dir, "pgdata")
        self.pgsock = os.path.join(self.dir, "pgsock")
        self.redis_dir = os.path.join(self.dir, "redis")
        self.www = os.path.join(self.dir, "www")
        make_pg_dir(self.pgsock)
        os.makedirs(self.redis_dir, exist_ok=True)
        prepare_www(self.www)


# --------------------------------------------------------------------------------------
# Ideal


class Ideal(Contender):
    name = "ideal"
    label = "ideal (harness, 2 ms protocol polling)"

    def __init__(self, root):
        super().__init__(root)
        self.prepare_server_dirs()
        self.procs = {}
        self.ports = {}
        self.logs = []
        procs.add_cleanup(self.kill)

    def _log(self, name):
        handle = open(os.path.join(self.dir, name + ".log"), "ab")
        self.logs.append(handle)
        return handle

    def up(self, cold):
        if cold:
            wipe_pg_data(self.pgdata)
        make_pg_dir(self.pgdata)
        db_port, cache_port, bus_port, web_port = procs.free_ports(4)
        self.ports = {"db": db_port, "cache": cache_port, "bus": bus_port, "web": web_port}
        ready = {name: threading.Event() for name in ("db", "cache", "bus", "web", "worker")}
        times = {}
        errors = []
        deadline = time.monotonic() + 120
        t0 = time.perf_counter()

        def poll(name, proc, check):
            while True:
                if check():
                    return
                if proc.poll() is not None:
                    raise BenchError(f"ideal: {name} exited with {proc.returncode} before it was ready")
                if time.monotonic() > deadline:
                    raise BenchError(f"ideal: {name} not ready after 120 s")
                time.sleep(POLL)

        def run(name, body):
            try:
                body()
                times[name] = time.perf_counter() - t0
                ready[name].set()
            except Exception as error:  # reported below
                errors.append(error)
                for event in ready.values():
                    event.set()

        def db():
            uid, gid = pg_ids()
            if cold or not os.path.exists(self.pgdata + "/PG_VERSION"):
                init = subprocess.run(initdb_argv(self.pgdata), user=uid, group=gid, extra_groups=[],
                                      env=pg_env(self.pgdata), cwd=self.pgdata, stdin=subprocess.DEVNULL,
                                      stdout=self._log("initdb"), stderr=subprocess.STDOUT, start_new_session=True)
                if init.returncode != 0:
                    raise BenchError(f"ideal: initdb exited with {init.returncode}")
                times["db.initdb"] = time.perf_counter() - t0
            times["db.spawn"] = time.perf_counter() - t0
            proc = procs.spawn(postgres_argv(self.pgdata, db_port, self.pgsock), user=uid, group=gid, extra_groups=[],
                               env=pg_env(self.pgdata), cwd=self.pgdata, stdout=self._log("db"),
                               stderr=subprocess.STDOUT)
            self.procs["db"] = proc
            poll("db", proc, lambda: probes.postgres_ready(db_port))

        def cache():
            times["cache.spawn"] = time.perf_counter() - t0
            proc = procs.spawn(redis_argv(cache_port, self.redis_dir), cwd=self.redis_dir,
                               stdout=self._log("cache"), stderr=subprocess.STDOUT)
            self.procs["cache"] = proc
            poll("cache", proc, lambda: probes.redis_ready(cache_port))

        def bus():
            times["bus.spawn"] = time.perf_counter() - t0
            proc = procs.spawn(tansu_argv(bus_port), cwd=self.dir, stdout=self._log("bus"), stderr=subprocess.STDOUT)
            self.procs["bus"] = proc
            poll("bus", proc, lambda: probes.kafka_ready(bus_port))

        def web():
            ready["db"].wait()
            ready["cache"].wait()
            if errors:
                return
            times["web.spawn"] = time.perf_counter() - t0
            proc = procs.spawn(web_argv(web_port), cwd=self.www, stdout=self._log("web"), stderr=subprocess.STDOUT)
            self.procs["web"] = proc
            poll("web", proc, lambda: probes.http_ready(web_port))

        def worker():
            ready["bus"].wait()
            if errors:
                return
            times["worker.spawn"] = time.perf_counter() - t0
            proc = procs.spawn(["/bin/sh", "-c", WORKER_CMD], cwd=self.dir, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            self.procs["worker"] = proc
            for line in proc.stdout:
                if b"ready" in line:
                    return
            raise BenchError("ideal: worker closed its output before printing ready")

        threads = [threading.Thread(target=run, args=(name, body), daemon=True)
                   for name, body in (("db", db), ("cache", cache), ("bus", bus), ("web", web), ("worker", worker))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = time.perf_counter() - t0
        if errors:
            raise errors[0]
        return {"total": total, "services": times}

    def down(self):
        """Signals every process directly (dependents first, then the servers in
        parallel, with the same stop signals muster uses) and waits for exit."""
        pids = [p.pid for p in self.procs.values()]
        t0 = time.perf_counter()
        for name in ("web", "worker"):
            if name in self.procs:
                self.procs[name].send_signal(signal.SIGTERM)
        for name in ("web", "worker"):
            if name in self.procs:
                self.procs[name].wait()
        stops = {"db": signal.SIGINT, "cache": signal.SIGTERM, "bus": signal.SIGINT}
        for name, sig in stops.items():
            if name in self.procs:
                self.procs[name].send_signal(sig)
        for name in stops:
            if name in self.procs:
                self.procs[name].wait()
        elapsed = time.perf_counter() - t0
        procs_left, ports_left = self.leaks(pids, self.ports.values())
        self._reset()
        return {"total": elapsed, "leaked_processes": procs_left, "leaked_ports": ports_left}

    def _reset(self):
        for proc in self.procs.values():
            procs.kill_group(proc.pid)
            procs.forget_group(proc.pid)
            if proc.stdout:
                proc.stdout.close()
        self.procs = {}
        for handle in self.logs:
            handle.close()
        self.logs = []

    def kill(self):
        for proc in self.procs.values():
            procs.kill_group(proc.pid)
        self.procs = {}


# --------------------------------------------------------------------------------------
# muster


def bench_stack_yaml():
    return f"""# written by scripts/bench: the bench stack
name: bench
services:
  db:
    engine: postgres
    port: auto
  cache:
    engine: redis
    port: auto
  bus:
    engine: kafka
    implementation: tansu
    port: auto
  web:
    command: ["{PYTHON3}", "-m", "http.server", "--bind", "127.0.0.1", "${{web.port}}"]
    working_dir: www
    port: auto
    depends_on: [db, cache]
    ready:
      http: http://127.0.0.1:${{web.port}}/
  worker:
    command: "{WORKER_CMD}"
    depends_on: [bus]
    ready:
      log: ready
"""


class MusterCLI:
    """Runs the muster binary against one stack file and project."""

    def __init__(self, binary, stack_file, project, env, log_path):
        self.binary = binary
        self.stack_file = stack_file
        self.project = project
        self.env = env
        self.log_path = log_path
        self.state_dir = os.path.join(os.path.dirname(stack_file), ".muster", project)
        procs.add_cleanup(self.force_down)

    def _run(self, *args, timeout=600, capture=False):
        argv = [self.binary, *args, "-f", self.stack_file, "-p", self.project]
        with open(self.log_path, "ab") as log:
            log.write(("\n$ " + " ".join(argv) + "\n").encode())
            log.flush()
            proc = procs.spawn(argv, env=self.env, cwd=os.path.dirname(self.stack_file),
                               stdout=subprocess.PIPE if capture else log, stderr=log)
            try:
                out = procs.wait_exact(proc, timeout, stdout_pipe=capture)
            finally:
                if proc.stdout:
                    proc.stdout.close()
                procs.forget_group(proc.pid)
        return proc.returncode, out

    def up(self, timeout="120s"):
        t0 = time.perf_counter()
        rc, _ = self._run("up", "-d", "--timeout", timeout)
        elapsed = time.perf_counter() - t0
        if rc != 0:
            raise BenchError(f"muster up -d exited {rc} (see {self.log_path})")
        return elapsed

    def down(self):
        t0 = time.perf_counter()
        rc, _ = self._run("down")
        elapsed = time.perf_counter() - t0
        return elapsed, rc

    def ps(self):
        rc, out = self._run("ps", "--json", capture=True)
        if rc != 0:
            raise BenchError(f"muster ps --json exited {rc}")
        return json.loads(out)

    def force_down(self):
        if os.path.isdir(self.state_dir):
            self._run("down", timeout=120)

    def events_path(self):
        return os.path.join(self.state_dir, "events.jsonl")

    def log_file(self, service):
        return os.path.join(self.state_dir, "logs", service + ".log")


def status_pids_ports(status):
    pids = [s.get("pid") for s in status.get("services", []) if s.get("pid")]
    pids.append(status.get("supervisor_pid"))
    ports = [p for s in status.get("services", []) for p in s.get("ports", [])]
    return pids, ports


class Muster(Contender):
    name = "muster"
    label = "muster up -d / down"

    def __init__(self, root, binary, env):
        super().__init__(root)
        self.stack_file = os.path.join(self.dir, "muster.yaml")
        with open(self.stack_file, "w") as handle:
            handle.write(bench_stack_yaml())
        prepare_www(os.path.join(self.dir, "www"))
        self.cli = MusterCLI(binary, self.stack_file, "bench", env, os.path.join(self.dir, "muster-cli.log"))
        self.pgdata = os.path.join(self.cli.state_dir, "data", "db")
        self.status = None

    def up(self, cold):
        if cold:
            wipe_pg_data(self.pgdata)
        tail = EventTail(self.cli.events_path())
        wall0 = time.time()
        total = self.cli.up()
        self.status = self.cli.ps()
        tail.poll()
        # offsets from the moment `up -d` was launched, from the event log
        services = {}
        for event in tail.events:
            kind = {"starting": ".spawn", "ready": ""}.get(event.get("type"))
            if kind is not None:
                services.setdefault(event["service"] + kind, parse_time(event["time"]) - wall0)
        services["ready_in_s"] = {s["name"]: s.get("ready_in_s") for s in self.status.get("services", [])}
        return {"total": total, "services": services}

    def down(self):
        pids, ports = status_pids_ports(self.status or {})
        tail = EventTail(self.cli.events_path())
        wall0 = time.time()
        elapsed, rc = self.cli.down()
        procs_left, ports_left = self.leaks(pids, ports)
        self.status = None
        tail.poll()
        # when the supervisor began and finished stopping, from the moment `down` was launched
        stopping = [parse_time(e["time"]) - wall0 for e in tail.events if e.get("type") == "stopping"]
        stopped = [parse_time(e["time"]) - wall0 for e in tail.events if e.get("type") == "stopped"]
        phases = {"first_stopping": min(stopping) if stopping else None,
                  "last_stopped": max(stopped) if stopped else None}
        return {"total": elapsed, "exit_code": rc, "leaked_processes": procs_left, "leaked_ports": ports_left,
                "phases": phases}


# --------------------------------------------------------------------------------------
# What users run instead: a CI shell script, and supervisord


def _shell_quote(text):
    return "'" + str(text).replace("'", "'\\''") + "'"


class ScriptContender(Contender):
    """Shared parts of the two shell-loop baselines."""

    def __init__(self, root):
        super().__init__(root)
        self.prepare_server_dirs()
        self.proc = None
        self.ports = {}
        procs.add_cleanup(self.kill)

    def _common_vars(self, cold):
        q = _shell_quote
        return "\n".join([
            "set -u",
            f"D={q(self.dir)}",
            f"PGDATA={q(self.pgdata)}",
            f"PGBIN={q(PG_BIN)}",
            f"TANSU={q(os.environ['MUSTER_TANSU'])}",
            f"PGPORT={self.ports['db']}; RPORT={self.ports['cache']}; KPORT={self.ports['bus']}; WPORT={self.ports['web']}",
            f"COLD={1 if cold else 0}",
            "AS_PG='setpriv --reuid=postgres --regid=postgres --clear-groups'",
            ": > \"$D/pids\"",
            "if [ \"$COLD\" = 1 ] || [ ! -f \"$PGDATA/PG_VERSION\" ]; then",
            "  $AS_PG env LC_ALL=C \"$PGBIN/initdb\" -D \"$PGDATA\" -U postgres -E UTF8 --no-locale "
            "--auth-local=trust --auth-host=trust --no-sync > \"$D/initdb.log\" 2>&1 || exit 1",
            "fi",
        ])

    def run_script(self, text):
        path = os.path.join(self.dir, "up.sh")
        with open(path, "w") as handle:
            handle.write("#!/usr/bin/env bash\n" + text + "\n")
        os.chmod(path, 0o755)
        t0 = time.perf_counter()
        with open(os.path.join(self.dir, "script.log"), "ab") as log:
            self.proc = procs.spawn(["/bin/bash", path], cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
            procs.wait_exact(self.proc, 300)
            rc = self.proc.returncode
        elapsed = time.perf_counter() - t0
        if rc != 0:
            raise BenchError(f"{self.name}: up script exited {rc} (see {self.dir}/script.log)")
        return elapsed

    def prepare(self, cold):
        if cold:
            wipe_pg_data(self.pgdata)
        make_pg_dir(self.pgdata)
        db, cache, bus, web = procs.free_ports(4)
        self.ports = {"db": db, "cache": cache, "bus": bus, "web": web}

    def kill(self):
        if self.proc is not None:
            procs.kill_group(self.proc.pid)


class CIScript(ScriptContender):
    name = "ci-script"
    label = "CI shell script (`until check; do sleep 1; done`)"

    def up(self, cold):
        self.prepare(cold)
        script = self._common_vars(cold) + """
$AS_PG env LC_ALL=C PGDATA="$PGDATA" "$PGBIN/postgres" -D "$PGDATA" -p $PGPORT -c listen_addresses=127.0.0.1 \\
    -c unix_socket_directories="$D/pgsock" -c max_connections=200 > "$D/db.log" 2>&1 &
echo "db $!" >> "$D/pids"
(cd "$D/redis" && exec redis-server --port $RPORT --bind 127.0.0.1 --daemonize no --dir "$D/redis" --save "" --appendonly no) > "$D/cache.log" 2>&1 &
echo "cache $!" >> "$D/pids"
"$TANSU" broker --listener-url tcp://127.0.0.1:$KPORT --advertised-listener-url tcp://127.0.0.1:$KPORT \\
    --storage-engine memory://tansu/ > "$D/bus.log" 2>&1 &
echo "bus $!" >> "$D/pids"

until pg_isready -q -h 127.0.0.1 -p $PGPORT; do sleep 1; done
until [ "$(redis-cli -p $RPORT ping 2>/dev/null)" = PONG ]; do sleep 1; done
(cd "$D/www" && exec """ + PYTHON3 + """ -m http.server --bind 127.0.0.1 $WPORT) > "$D/web.log" 2>&1 &
echo "web $!" >> "$D/pids"
until (exec 3<>/dev/tcp/127.0.0.1/$KPORT) 2>/dev/null; do sleep 1; done
/bin/sh -c '""" + WORKER_CMD + """' > "$D/worker.log" 2>&1 &
echo "worker $!" >> "$D/pids"
until curl -sf -o /dev/null http://127.0.0.1:$WPORT/; do sleep 1; done
until grep -q ready "$D/worker.log"; do sleep 1; done
"""
        return {"total": self.run_script(script), "services": {}}

    def down(self):
        pids = {}
        with open(os.path.join(self.dir, "pids")) as handle:
            for line in handle:
                name, pid = line.split()
                pids[name] = int(pid)
        t0 = time.perf_counter()
        for name, sig in (("web", signal.SIGTERM), ("worker", signal.SIGTERM)):
            if name in pids:
                os.kill(pids[name], sig)
        procs.wait_gone([pids.get("web"), pids.get("worker")], 30)
        for name, sig in (("db", signal.SIGINT), ("cache", signal.SIGTERM), ("bus", signal.SIGINT)):
            if name in pids:
                os.kill(pids[name], sig)
        procs.wait_gone(list(pids.values()), 30)
        elapsed = time.perf_counter() - t0
        procs_left, ports_left = self.leaks(pids.values(), self.ports.values())
        self.kill()
        procs.forget_group(self.proc.pid)
        self.proc = None
        return {"total": elapsed, "leaked_processes": procs_left, "leaked_ports": ports_left}


class Supervisord(ScriptContender):
    name = "supervisord"
    label = "supervisord + the same loops"

    def __init__(self, root, supervisord, supervisorctl):
        super().__init__(root)
        self.supervisord = supervisord
        self.supervisorctl = supervisorctl
        self.conf = os.path.join(self.dir, "supervisord.conf")

    def write_conf(self):
        d = self.dir
        p = self.ports
        text = f"""[unix_http_server]
file={d}/supervisor.sock

[supervisord]
nodaemon=true
logfile={d}/supervisord.log
pidfile={d}/supervisord.pid
childlogdir={d}
loglevel=warn

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{d}/supervisor.sock

[program:db]
command={' '.join(postgres_argv(self.pgdata, p['db'], self.pgsock))}
user=postgres
directory={self.pgdata}
environment=LC_ALL="C",PGDATA="{self.pgdata}"
stopsignal=INT
startsecs=0
redirect_stderr=true
stdout_logfile={d}/db.log

[program:cache]
command={' '.join(a if a else '""' for a in redis_argv(p['cache'], self.redis_dir))}
directory={self.redis_dir}
startsecs=0
redirect_stderr=true
stdout_logfile={d}/cache.log

[program:bus]
command={' '.join(tansu_argv(p['bus']))}
directory={d}
stopsignal=INT
startsecs=0
redirect_stderr=true
stdout_logfile={d}/bus.log

[program:web]
command={' '.join(web_argv(p['web']))}
directory={self.www}
autostart=false
startsecs=0
redirect_stderr=true
stdout_logfile={d}/web.log

[program:worker]
command=/bin/sh -c "{WORKER_CMD}"
directory={d}
autostart=false
startsecs=0
redirect_stderr=true
stdout_logfile={d}/worker.log
"""
        with open(self.conf, "w") as handle:
            handle.write(text)

    def up(self, cold):
        self.prepare(cold)
        self.write_conf()
        for name in ("worker.log", "web.log", "supervisord.pid"):
            try:
                os.unlink(os.path.join(self.dir, name))
            except FileNotFoundError:
                pass
        ctl = f"{_shell_quote(self.supervisorctl)} -c {_shell_quote(self.conf)}"
        script = self._common_vars(cold) + f"""
{_shell_quote(self.supervisord)} -c {_shell_quote(self.conf)} &
echo "supervisord $!" >> "$D/pids"
until pg_isready -q -h 127.0.0.1 -p $PGPORT; do sleep 1; done
until [ "$(redis-cli -p $RPORT ping 2>/dev/null)" = PONG ]; do sleep 1; done
{ctl} start web > /dev/null
until (exec 3<>/dev/tcp/127.0.0.1/$KPORT) 2>/dev/null; do sleep 1; done
{ctl} start worker > /dev/null
until curl -sf -o /dev/null http://127.0.0.1:$WPORT/; do sleep 1; done
until grep -q ready "$D/worker.log" 2>/dev/null; do sleep 1; done
"""
        return {"total": self.run_script(script), "services": {}}

    def down(self):
        with open(os.path.join(self.dir, "pids")) as handle:
            pid = int(handle.read().split()[1])
        children = [p for p in procs.group_members(self.proc.pid) if p != pid]
        t0 = time.perf_counter()
        os.kill(pid, signal.SIGTERM)  # supervisord stops every program with its stopsignal
        procs.wait_gone([pid] + children, 60)
        elapsed = time.perf_counter() - t0
        procs_left, ports_left = self.leaks([pid] + children, self.ports.values())
        self.kill()
        procs.forget_group(self.proc.pid)
        self.proc = None
        return {"total": elapsed, "leaked_processes": procs_left, "leaked_ports": ports_left}
