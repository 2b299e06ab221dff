"""The measurements beyond start-up: detection latency, supervisor cost, log
throughput and scale."""

import os
import selectors
import shutil
import signal
import subprocess
import time

import procs
from stackbench import BenchError, EventTail, MusterCLI, parse_time, status_pids_ports


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)


def _down_and_check(cli, directory, status):
    pids, ports = status_pids_ports(status or {})
    elapsed, rc = cli.down()
    left, busy = procs.leak_check(directory, pids, ports)
    return {"down_s": elapsed, "exit_code": rc, "leaked_processes": left, "leaked_ports": busy,
            "transient": procs.take_transients()}


# --------------------------------------------------------------------------------------
# 5. Detection latency


def detection(binary, env, root, samples, pg_samples):
    directory = os.path.join(root, "detect")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    procs.add_root(directory)
    victims = [f"v{i:02d}" for i in range(1, samples + 1)]
    text = "# written by scripts/bench: detection latency\nname: detect\nservices:\n"
    text += "  db:\n    engine: postgres\n    port: auto\n"
    for name in victims:
        text += (f"  {name}:\n    command: \"echo ready; exec sleep 1000\"\n    ready: {{ log: ready }}\n"
                 f"    restart: on-failure\n    max_restarts: 100\n")
    stack = os.path.join(directory, "muster.yaml")
    _write(stack, text)
    cli = MusterCLI(binary, stack, "detect", env, os.path.join(directory, "muster-cli.log"))
    result = {"exited_ms": [], "restarted_ms": [], "restart_detected_ms": [], "notes": []}
    status = None
    try:
        cli.up()
        status = cli.ps()
        by_name = {s["name"]: s for s in status["services"]}
        tail = EventTail(cli.events_path())
        # Each victim is killed once, so every restart sees muster's first backoff step.
        for name in victims:
            pid = by_name[name]["pid"]
            time.sleep(0.25)
            killed_at = time.time()
            os.kill(pid, signal.SIGKILL)
            exited = tail.wait_for(lambda e: e.get("service") == name and e.get("type") == "exited"
                                   and e.get("pid") == pid, 10)
            restarted = tail.wait_for(lambda e: e.get("service") == name and e.get("type") == "restarted"
                                      and e.get("previous_pid") == pid, 10)
            if exited is None:
                result["notes"].append(f"{name}: no exited event for pid {pid} within 10 s")
            else:
                result["exited_ms"].append((parse_time(exited["time"]) - killed_at) * 1000)
            if restarted is None:
                result["notes"].append(f"{name}: no restarted event for pid {pid} within 10 s")
            else:
                result["restarted_ms"].append((parse_time(restarted["time"]) - killed_at) * 1000)
        result["backoff_note"] = "restarted includes muster's first restart backoff (100 ms)"
        # Postgres in-place crash reinit: SIGKILL one backend; the postmaster
        # restarts every backend without its own pid changing.
        result["restart_detected_ms"] = []
        result["restart_detected_missed"] = 0
        port = by_name["db"]["ports"][0]
        import psycopg2
        for attempt in range(pg_samples):
            conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=5)
            conn.autocommit = True
            backend = None
            deadline = time.monotonic() + 20
            while backend is None:
                try:
                    cur = conn.cursor()
                    cur.execute("SELECT pg_backend_pid()")
                    backend = cur.fetchone()[0]
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            killed_at = time.time()
            os.kill(backend, signal.SIGKILL)
            detected = tail.wait_for(lambda e: e.get("service") == "db" and e.get("type") == "restart_detected"
                                     and parse_time(e["time"]) >= killed_at - 0.001, 10)
            try:
                conn.close()
            except Exception:
                pass
            if detected is None:
                result["restart_detected_missed"] = result.get("restart_detected_missed", 0) + 1
                result["notes"].append(f"Postgres backend kill {attempt + 1}: no restart_detected event for db "
                                       "within 10 s")
            else:
                result["restart_detected_ms"].append((parse_time(detected["time"]) - killed_at) * 1000)
            # let the server finish its recovery before the next kill
            _wait_pg(port, 30)
            time.sleep(0.5)
        if result["restart_detected_ms"]:
            result["restart_detected_status"] = "measured"
        else:
            result["restart_detected_status"] = (
                "not measured yet: no restart_detected event within 10 s of SIGKILLing a Postgres backend")
        tail.poll()
        result["db_events_after_kill"] = [e["type"] for e in tail.events if e.get("service") == "db"]
    finally:
        result["teardown"] = _down_and_check(cli, directory, status)
    return result


def _wait_pg(port, timeout):
    import probes
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probes.postgres_ready(port):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------------------
# 6. Supervisor cost


def _proc_cpu_ticks(pid):
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _proc_status(pid, key):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return None


def _cmd(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")[0].decode(errors="replace")
    except OSError:
        return ""


def supervisor_cost(binary, env, root, repo, window):
    directory = os.path.join(root, "cost")
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    procs.add_root(directory)
    shutil.copy(os.path.join(repo, "stacks", "default.yaml"), os.path.join(directory, "default.yaml"))
    shutil.copytree(os.path.join(repo, "stacks", "app"), os.path.join(directory, "app"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    cli = MusterCLI(binary, os.path.join(directory, "default.yaml"), "cost", env,
                    os.path.join(directory, "muster-cli.log"))
    result = {"window_s": window}
    status = None
    try:
        result["up_s"] = cli.up()
        status = cli.ps()
        pid = status["supervisor_pid"]
        guardian = [c for c in procs.children(pid) if _cmd(c) == _cmd(pid)]
        hz = os.sysconf("SC_CLK_TCK")
        rss = []
        t0 = time.monotonic()
        ticks0 = _proc_cpu_ticks(pid)
        guardian_ticks0 = _proc_cpu_ticks(guardian[0]) if guardian else 0
        while time.monotonic() - t0 < window:
            rss.append(_proc_status(pid, "VmRSS"))
            time.sleep(0.5)
        ticks1 = _proc_cpu_ticks(pid)
        elapsed = time.monotonic() - t0
        rss.append(_proc_status(pid, "VmRSS"))
        result.update({
            "supervisor_pid": pid,
            "rss_kb_samples": rss,
            "rss_kb_max": max(rss),
            "rss_kb_median": sorted(rss)[len(rss) // 2],
            "hwm_kb": _proc_status(pid, "VmHWM"),
            "threads": _proc_status(pid, "Threads"),
            "cpu_percent": (ticks1 - ticks0) / hz / elapsed * 100,
            "cpu_ticks": ticks1 - ticks0,
            "hz": hz,
            "measured_s": elapsed,
            "services": {s["name"]: s["state"] for s in status["services"]},
        })
        if guardian:
            result["guardian"] = {"pid": guardian[0], "rss_kb": _proc_status(guardian[0], "VmRSS"),
                                  "cpu_percent": (_proc_cpu_ticks(guardian[0]) - guardian_ticks0) / hz / elapsed * 100}
        rollup = {}
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    rollup[parts[0][:-1]] = int(parts[1])
        result["pss_kb"] = rollup.get("Pss")
        result["anon_kb"] = rollup.get("Anonymous")
        result["file_rss_kb"] = (rollup.get("Rss") or 0) - (rollup.get("Anonymous") or 0)
        result["top_mappings"] = _top_mappings(pid, 5)
        after = cli.ps()
        result["restarts_during_window"] = sum(s.get("restarts", 0) for s in after["services"])
    finally:
        result["teardown"] = _down_and_check(cli, directory, status)
    return result


def _top_mappings(pid, count):
    totals = {}
    current = "[anon]"
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            parts = line.split()
            if parts and "-" in parts[0] and not parts[0].endswith(":"):
                current = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts and parts[0] == "Rss:":
                totals[current] = totals.get(current, 0) + int(parts[1])
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


# --------------------------------------------------------------------------------------
# 7. Log throughput

LINE = "muster log throughput benchmark line: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVW"
assert len(LINE) == 99


def flood_command(size):
    return f"yes '{LINE}' | head -c {size}"


def log_throughput(binary, env, root, size, runs):
    directory = os.path.join(root, "logs")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    procs.add_root(directory)
    stack = os.path.join(directory, "muster.yaml")
    # The log rotates every 64 MB (the default cap) and keeps every file, so the
    # figure includes rotation and the byte count is still complete. A binary from
    # before rotation refuses `logs:`; it gets the stack without it.
    rotation = "logs: { max_size: 64MB, max_files: 100 }\n"
    for logs_line in (rotation, ""):
        _write(stack, f"# written by scripts/bench: log throughput\nname: logs\n{logs_line}services:\n"
                      f"  flood:\n    command: \"{flood_command(size)}\"\n")
        check = subprocess.run([binary, "config", "-f", stack], cwd=directory, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if check.returncode == 0:
            break
    cli = MusterCLI(binary, stack, "logs", env, os.path.join(directory, "muster-cli.log"))

    def log_size(log):
        """NAME.log and its rotated files NAME.log.1, NAME.log.2, ..."""
        total, index = os.path.getsize(log), 1
        while os.path.exists(f"{log}.{index}"):
            total += os.path.getsize(f"{log}.{index}")
            index += 1
        return total
    plain = os.path.join(directory, "plain.out")
    result = {"size": size, "devnull_s": [], "file_s": [], "muster_s": [], "muster_wall_s": [],
              "log_bytes": [], "complete": [], "teardowns": [], "supervisor_log_growth": []}

    def baseline(target):
        t0 = time.perf_counter()
        proc = procs.spawn(["/bin/sh", "-c", f"{flood_command(size)} > {target}"], cwd=directory)
        rc = proc.wait()
        elapsed = time.perf_counter() - t0
        procs.forget_group(proc.pid)
        if rc != 0:
            raise BenchError(f"log baseline exited {rc}")
        return elapsed

    def through_muster():
        shutil.rmtree(os.path.join(cli.state_dir, "logs"), ignore_errors=True)
        tail = EventTail(cli.events_path())
        supervisor_log = os.path.join(cli.state_dir, "supervisor.log")
        before = os.path.getsize(supervisor_log) if os.path.exists(supervisor_log) else 0
        wall0 = time.time()
        status = None
        try:
            cli.up()
            status = cli.ps()
            done = tail.wait_for(lambda e: e.get("service") == "flood" and e.get("type") in ("completed", "failed", "exited"),
                                 600)
            if done is None or done["type"] != "completed":
                raise BenchError(f"flood did not complete: {done}")
            started = next(e for e in tail.events if e.get("service") == "flood" and e.get("type") == "starting")
            log = cli.log_file("flood")
            # the pump may still be writing its last chunk
            last, stable_since = -1, time.monotonic()
            while time.monotonic() - stable_since < 0.5 and log_size(log) != size:
                current = log_size(log)
                if current != last:
                    last, stable_since = current, time.monotonic()
                time.sleep(0.01)
            written = log_size(log)
            result["muster_s"].append(parse_time(done["time"]) - parse_time(started["time"]))
            result["muster_wall_s"].append(parse_time(done["time"]) - wall0)
            result["log_bytes"].append(written)
            result["complete"].append(written == size)
            if os.path.exists(supervisor_log):
                result["supervisor_log_growth"].append(os.path.getsize(supervisor_log) - before)
        finally:
            result["teardowns"].append(_down_and_check(cli, directory, status))
            shutil.rmtree(os.path.join(cli.state_dir, "logs"), ignore_errors=True)
            try:
                os.unlink(supervisor_log)
            except FileNotFoundError:
                pass

    for i in range(runs):
        order = ["devnull", "muster", "file"]
        order = order[i % 3:] + order[:i % 3]
        for kind in order:
            if kind == "devnull":
                result["devnull_s"].append(baseline("/dev/null"))
            elif kind == "file":
                result["file_s"].append(baseline(plain))
                os.unlink(plain)
            else:
                through_muster()
    return result


# --------------------------------------------------------------------------------------
# 8. Scale


def scale_stack(count):
    text = f"# written by scripts/bench: {count} trivial services\nname: scale{count}\nservices:\n"
    for i in range(1, count + 1):
        text += f"  s{i:03d}:\n    command: \"echo ready; exec sleep 1000\"\n    ready: {{ log: ready }}\n"
    return text


class ScaleIdeal:
    """Reference: the harness itself spawns N shells and waits for each to print ready."""

    def __init__(self, directory, count):
        self.directory = directory
        self.count = count
        self.procs = []
        procs.add_cleanup(self.kill)

    def up(self):
        t0 = time.perf_counter()
        selector = selectors.DefaultSelector()
        for _ in range(self.count):
            proc = subprocess.Popen(["/bin/sh", "-c", "echo ready; exec sleep 1000"], cwd=self.directory,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            procs.register_group(proc.pid)
            self.procs.append(proc)
            selector.register(proc.stdout, selectors.EVENT_READ, proc)
        waiting = self.count
        while waiting:
            for key, _ in selector.select(timeout=30):
                data = key.fileobj.readline()
                if b"ready" in data or not data:
                    selector.unregister(key.fileobj)
                    waiting -= 1
        elapsed = time.perf_counter() - t0
        selector.close()
        return elapsed

    def down(self):
        t0 = time.perf_counter()
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait()
        elapsed = time.perf_counter() - t0
        left, _ = procs.leak_check(self.directory, [p.pid for p in self.procs], ())
        procs.take_transients()
        for proc in self.procs:
            proc.stdout.close()
            procs.forget_group(proc.pid)
        self.procs = []
        return elapsed, left

    def kill(self):
        for proc in self.procs:
            procs.kill_group(proc.pid)


def scale(binary, env, root, sizes, runs):
    result = {n: {"muster_up_s": [], "muster_down_s": [], "ideal_up_s": [], "ideal_down_s": [],
                  "leaks": 0, "teardowns": []} for n in sizes}
    clis = {}
    for n in sizes:
        directory = os.path.join(root, f"scale{n}")
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        procs.add_root(directory)
        stack = os.path.join(directory, "muster.yaml")
        _write(stack, scale_stack(n))
        clis[n] = (MusterCLI(binary, stack, f"scale{n}", env, os.path.join(directory, "muster-cli.log")), directory)
    for i in range(runs):
        order = list(sizes[i % len(sizes):]) + list(sizes[:i % len(sizes)])
        for n in order:
            cli, directory = clis[n]
            contenders = ["muster", "ideal"] if i % 2 == 0 else ["ideal", "muster"]
            for who in contenders:
                if who == "ideal":
                    ideal = ScaleIdeal(directory, n)
                    try:
                        result[n]["ideal_up_s"].append(ideal.up())
                        down, left = ideal.down()
                        result[n]["ideal_down_s"].append(down)
                    finally:
                        ideal.kill()
                        procs.remove_cleanup(ideal.kill)
                    continue
                status = None
                try:
                    result[n]["muster_up_s"].append(cli.up(timeout="300s"))
                    status = cli.ps()
                    ready = sum(1 for s in status["services"] if s.get("ready"))
                    if ready != n:
                        raise BenchError(f"scale {n}: only {ready} services ready after up -d")
                finally:
                    teardown = _down_and_check(cli, directory, status)
                    result[n]["teardowns"].append(teardown)
                    result[n]["muster_down_s"].append(teardown["down_s"])
                    if teardown["leaked_processes"] or teardown["leaked_ports"] or teardown["exit_code"]:
                        result[n]["leaks"] += 1
    return result
