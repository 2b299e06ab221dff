"""What people run instead of muster, on the bench stack:

- CI script: what a typical CI job does: servers in the background, then
  `until <check>; do sleep 1; done` loops.
- supervisord: the same programs under supervisord, with the same loops for
  readiness and `supervisorctl start` for the dependents.
"""

import os
import signal
import subprocess
import time

import procs
import stackbench
from stackbench import (PYTHON3, WORKER_CMD, BenchError, Contender, make_pg_dir, postgres_argv, redis_argv,
                        tansu_argv, web_argv, wipe_pg_data)


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
            f"PGBIN={q(stackbench.PG_BIN)}",
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
