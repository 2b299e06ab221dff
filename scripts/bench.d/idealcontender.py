"""The ideal contender, the physical limit of bringing the bench stack up: the
harness starts every server itself, independent ones in parallel, dependents the
moment their dependencies answer, polling every 2 ms with protocol checks."""

import os
import signal
import subprocess
import threading
import time

import probes
import procs
from stackbench import (POLL, WORKER_CMD, BenchError, Contender, initdb_argv, make_pg_dir, pg_env, pg_ids,
                        postgres_argv, redis_argv, tansu_argv, web_argv, wipe_pg_data)


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
