"""The bench stack (Postgres, Redis, Tansu, an HTTP app and a log-ready worker):
the servers' argv and folders, the base of the contenders that bring it up, and
muster's command line as the harness runs it. The contenders the start-up part
compares are in modules of their own:

- idealcontender: the physical limit (the harness starts every server itself).
- mustercontender: `muster up -d` / `muster down` on the same stack written as YAML.
- scriptcontenders: what people run instead, a CI shell script and supervisord.
"""

import datetime
import json
import os
import pwd
import shutil
import subprocess
import time

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
# muster's command line


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


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def down_and_check(cli, directory, status):
    """`muster down`, then the processes and ports of the status before it must be gone."""
    pids, ports = status_pids_ports(status or {})
    elapsed, rc = cli.down()
    left, busy = procs.leak_check(directory, pids, ports)
    return {"down_s": elapsed, "exit_code": rc, "leaked_processes": left, "leaked_ports": busy,
            "transient": procs.take_transients()}
