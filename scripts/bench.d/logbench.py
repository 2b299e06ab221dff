"""Log throughput: a flood of lines through muster to its log file, against the
same command writing to /dev/null and to a file."""

import os
import shutil
import subprocess
import time

import procs
from stackbench import BenchError, EventTail, MusterCLI, down_and_check, parse_time, write_file


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
        write_file(stack, f"# written by scripts/bench: log throughput\nname: logs\n{logs_line}services:\n"
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
            result["teardowns"].append(down_and_check(cli, directory, status))
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
