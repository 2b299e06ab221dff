"""The muster contender: `muster up -d` / `muster down` on the bench stack written
as YAML, with the moments of its events."""

import os
import time

from stackbench import (PYTHON3, WORKER_CMD, Contender, EventTail, MusterCLI, parse_time, prepare_www,
                        status_pids_ports, wipe_pg_data)


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
