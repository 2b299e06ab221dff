"""A muster project in a folder of its own, for the cold, restore and tests parts:
runs `muster` against it with bounded waits, and always brings it down with
`muster down --volumes` (registered as a cleanup, so an error or an interrupt
still tears it down and deletes its data)."""

import glob
import json
import os
import shutil
import subprocess
import time

import procs
from stackbench import BenchError, status_pids_ports


class Project:
    def __init__(self, binary, directory, name, yaml, env, extra_env=None):
        self.binary = binary
        self.dir = directory
        self.name = name
        self.env = dict(env)
        self.env.update(extra_env or {})
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        procs.add_root(directory)
        self.stack_file = os.path.join(directory, "muster.yaml")
        with open(self.stack_file, "w") as handle:
            handle.write(yaml)
        self.log_path = os.path.join(directory, "muster-cli.log")
        self.state_dir = os.path.join(directory, ".muster", name)
        self.status = None
        procs.add_cleanup(self.force_down)

    def run(self, *args, timeout=300, capture=False, extra_env=None, stack_args=True):
        """(exit code, stdout if captured, seconds from launch to exit)."""
        args = list(args)
        stack = ["-f", self.stack_file, "-p", self.name] if stack_args else []
        cut = args.index("--") if "--" in args else len(args)  # before a passed-through command
        argv = [self.binary, *args[:cut], *stack, *args[cut:]]
        env = self.env if not extra_env else dict(self.env, **extra_env)
        with open(self.log_path, "ab") as log:
            log.write(("\n$ " + " ".join(argv) + "\n").encode())
            log.flush()
            t0 = time.perf_counter()
            proc = procs.spawn(argv, env=env, cwd=self.dir, stdout=subprocess.PIPE if capture else log, stderr=log)
            try:
                out = procs.wait_exact(proc, timeout, stdout_pipe=capture)
            finally:
                if proc.stdout:
                    proc.stdout.close()
                procs.forget_group(proc.pid)
            elapsed = time.perf_counter() - t0
        return proc.returncode, out, elapsed

    def tail(self, size=600):
        """The end of this project's CLI log, for error messages (the folder is deleted afterwards)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - size))
                return handle.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def up(self, timeout="120s"):
        rc, _, elapsed = self.run("up", "-d", "--timeout", timeout, timeout=300)
        if rc != 0:
            raise BenchError(f"{self.name}: muster up -d exited {rc}: {self.tail()}")
        return elapsed

    def ps(self):
        rc, out, _ = self.run("ps", "--json", capture=True, timeout=60)
        if rc != 0:
            raise BenchError(f"{self.name}: muster ps --json exited {rc}")
        self.status = json.loads(out)
        return self.status

    def port(self, service):
        status = self.status or self.ps()
        for entry in status.get("services", []):
            if entry["name"] == service and entry.get("ports"):
                return entry["ports"][0]
        raise BenchError(f"{self.name}: no port for {service} in muster ps --json")

    def postgres_socket_dir(self, service):
        """muster's unix socket folder for a Postgres service: the one under
        /tmp/muster-UID holding that server's .s.PGSQL.PORT."""
        port = self.port(service)
        found = glob.glob(f"/tmp/muster-{os.getuid()}/*.pg-{service}/.s.PGSQL.{port}")
        if not found:
            raise BenchError(f"{self.name}: no Postgres socket for {service} on port {port}")
        return os.path.dirname(found[0])

    def down(self, volumes=True):
        """`muster down [--volumes]`; returns (seconds, leaked processes, leaked ports)."""
        pids, ports = status_pids_ports(self.status or {})
        args = ["down", "--volumes"] if volumes else ["down"]
        rc, _, elapsed = self.run(*args, timeout=120)
        self.status = None
        left, busy = procs.leak_check(self.dir, pids, ports)
        procs.take_transients()
        if rc != 0:
            raise BenchError(f"{self.name}: muster {' '.join(args)} exited {rc} (see {self.log_path})")
        return elapsed, left, busy

    def force_down(self):
        if os.path.isdir(self.state_dir):
            self.run("down", "--volumes", timeout=120)

    def remove(self):
        """Down (with its data) and delete the folder: nothing of it is left."""
        try:
            self.force_down()
        finally:
            procs.remove_cleanup(self.force_down)
            shutil.rmtree(self.dir, ignore_errors=True)
