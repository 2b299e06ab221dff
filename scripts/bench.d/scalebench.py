"""Scale: stacks of 10 to 500 trivial services brought up and down by muster,
against the harness spawning the same shells itself."""

import os
import selectors
import signal
import subprocess
import time

import procs
from stackbench import BenchError, MusterCLI, down_and_check, write_file


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
        write_file(stack, scale_stack(n))
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
                    teardown = down_and_check(cli, directory, status)
                    result[n]["teardowns"].append(teardown)
                    result[n]["muster_down_s"].append(teardown["down_s"])
                    if teardown["leaked_processes"] or teardown["leaked_ports"] or teardown["exit_code"]:
                        result[n]["leaks"] += 1
    return result
