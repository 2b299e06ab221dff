"""The development loop (issue 25): edit to ready against the ideal and `entr -r`,
the idle cost of watching 100 000 files against `entr` (and Python's `watchfiles`
when it is installed), and the time to start watching them."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

SERVER = """import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(port):
    """The pid the server answers with, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5) as r:
            return r.read().decode()
    except Exception:
        return None


def wait_new_answer(port, old, limit=30.0):
    """Seconds until the server answers with a pid other than old (a new process)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        now = answer(port)
        if now is not None and now != old:
            return time.monotonic() - start
        time.sleep(0.001)
    raise RuntimeError(f"no new answer on {port} within {limit}s")


def wait_answer(port, limit=30.0):
    start = time.monotonic()
    while time.monotonic() - start < limit:
        now = answer(port)
        if now is not None:
            return now
        time.sleep(0.005)
    raise RuntimeError(f"no answer on {port}")


def edit(path, n):
    with open(path, "a") as handle:
        handle.write(f"# edit {n}\n")


def python_bin():
    return os.environ.get("MUSTER_PYTHON") or shutil.which("python3")


def edit_to_ready_muster(binary, env, folder, rounds, debounce_ms):
    port = free_port()
    with open(os.path.join(folder, "server.py"), "w") as h:
        h.write(SERVER)
    with open(os.path.join(folder, "muster.yaml"), "w") as h:
        h.write(f"name: wb-{os.getpid()}\nwatch: {{ debounce: {debounce_ms}ms }}\nservices:\n  web:\n"
                f"    command: [\"{python_bin()}\", \"server.py\"]\n    port: {port}\n"
                f"    ready: {{ http: \"http://127.0.0.1:{port}/healthz\", interval: 5ms }}\n    watch: [server.py]\n")
    subprocess.run([binary, "up", "-d"], cwd=folder, env=env, check=True, capture_output=True)
    times = []
    try:
        for n in range(rounds):
            old = wait_answer(port)
            time.sleep(0.3)
            t0 = time.monotonic()
            edit(os.path.join(folder, "server.py"), n)
            wait_new_answer(port, old)
            times.append(time.monotonic() - t0)
    finally:
        subprocess.run([binary, "down"], cwd=folder, env=env, capture_output=True)
    return times


def edit_to_ready_ideal(folder, rounds):
    """What the loop cannot beat: kill the server, start it again, poll until it answers."""
    port = free_port()
    path = os.path.join(folder, "server.py")
    with open(path, "w") as h:
        h.write(SERVER)
    env = dict(os.environ, PORT=str(port))
    proc = subprocess.Popen([python_bin(), path], env=env)
    times = []
    try:
        for n in range(rounds):
            old = wait_answer(port)
            time.sleep(0.3)
            t0 = time.monotonic()
            edit(path, n)
            proc.terminate()
            proc.wait()
            proc = subprocess.Popen([python_bin(), path], env=env)
            wait_new_answer(port, old)
            times.append(time.monotonic() - t0)
    finally:
        proc.kill()
        proc.wait()
    return times


def edit_to_ready_entr(folder, rounds):
    port = free_port()
    path = os.path.join(folder, "server.py")
    with open(path, "w") as h:
        h.write(SERVER)
    env = dict(os.environ, PORT=str(port))
    proc = subprocess.Popen(["entr", "-n", "-r", python_bin(), path], stdin=subprocess.PIPE, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    proc.stdin.write((path + "\n").encode())
    proc.stdin.close()
    times = []
    try:
        for n in range(rounds):
            old = wait_answer(port)
            time.sleep(0.3)
            t0 = time.monotonic()
            edit(path, n)
            wait_new_answer(port, old)
            times.append(time.monotonic() - t0)
    finally:
        kill_entr(proc)
    return times


def kill_entr(proc):
    """entr puts its child in a process group of its own: kill the child, then entr."""
    kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    for pid in kids:
        try:
            os.killpg(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def make_tree(root, folders=1000, per=100):
    for f in range(folders):
        d = os.path.join(root, f"pkg{f // 100}", f"mod{f}")
        os.makedirs(d, exist_ok=True)
        for i in range(per):
            with open(os.path.join(d, f"f{i}.py"), "w") as h:
                h.write(f"x = {i}\n")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as h:
        fields = h.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as h:
        for line in h:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle_cost(pid, window):
    c0 = cpu_seconds(pid)
    time.sleep(window)
    return {"cpu_percent": (cpu_seconds(pid) - c0) / window * 100, "rss_kb": rss_kb(pid)}


def tree_muster(binary, env, folder, window):
    with open(os.path.join(folder, "muster.yaml"), "w") as h:
        h.write(f"name: wt-{os.getpid()}\nservices:\n  idle:\n    command: \"exec sleep 1000\"\n    watch: [tree]\n")
    results = {}
    for mode, flags in (("no_watch", ["--no-watch"]), ("watch", [])):
        t0 = time.monotonic()
        subprocess.run([binary, "up", "-d", *flags], cwd=folder, env=env, check=True, capture_output=True)
        results[f"up_{mode}_s"] = time.monotonic() - t0
        out = subprocess.run([binary, "ps", "--json"], cwd=folder, env=env, capture_output=True, text=True).stdout
        import json
        pid = json.loads(out)["supervisor_pid"]
        time.sleep(1)
        results[mode] = idle_cost(pid, window)
        subprocess.run([binary, "down"], cwd=folder, env=env, capture_output=True)
    results["start_watching_s"] = results["up_watch_s"] - results["up_no_watch_s"]
    return results


def tree_entr(tree, window):
    files = subprocess.run(["find", tree, "-type", "f"], capture_output=True, text=True).stdout
    t0 = time.monotonic()
    proc = subprocess.Popen(["entr", "-n", "-r", "sleep", "1000"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    proc.stdin.write(files.encode())
    proc.stdin.close()
    # entr is watching once it has started its child
    deadline = time.monotonic() + 120
    started = None
    while time.monotonic() < deadline:
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        if kids:
            started = time.monotonic() - t0
            break
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    try:
        if started is None:
            return {"error": (proc.stderr.read().decode(errors="replace")[:200] if proc.poll() is not None else "did not start")}
        result = idle_cost(proc.pid, window)
        result["start_watching_s"] = started
        return result
    finally:
        kill_entr(proc)


def watchfiles_python():
    """A Python with watchfiles: BENCH_WATCHFILES_PYTHON, else the project's."""
    return os.environ.get("BENCH_WATCHFILES_PYTHON") or python_bin()


def tree_watchfiles(tree, window):
    python = watchfiles_python()
    check = subprocess.run([python, "-c", "import watchfiles"], capture_output=True)
    if check.returncode != 0:
        return {"error": "watchfiles is not installed (pip install watchfiles)"}
    script = ("import sys, watchfiles\nprint('watching', flush=True)\n"
              "for _ in watchfiles.watch(sys.argv[1], debounce=100): pass\n")
    t0 = time.monotonic()
    proc = subprocess.Popen([python, "-c", script, tree], stdout=subprocess.PIPE, start_new_session=True)
    proc.stdout.readline()
    time.sleep(1)
    try:
        result = idle_cost(proc.pid, window)
        result["start_watching_s"] = time.monotonic() - t0 - 1 - window
        return result
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def watch(binary, env, root, runs, quick, log):
    base = os.path.join(root, "watch")
    os.makedirs(base, exist_ok=True)
    rounds = 5 if quick else 10
    debounce_ms = 100
    out = {"binary": binary, "rounds": rounds, "debounce_ms": debounce_ms, "muster_ms": [], "ideal_ms": [], "entr_ms": [],
           "muster_fast_ms": [], "fast_debounce_ms": 10}
    for r in range(runs):
        order = [("ideal", lambda d: edit_to_ready_ideal(d, rounds)),
                 ("entr", lambda d: edit_to_ready_entr(d, rounds)),
                 ("muster", lambda d: edit_to_ready_muster(binary, env, d, rounds, debounce_ms)),
                 ("muster_fast", lambda d: edit_to_ready_muster(binary, env, d, rounds, out["fast_debounce_ms"]))]
        order = order[r % len(order):] + order[:r % len(order)]
        for name, body in order:
            folder = os.path.join(base, f"{name}-{r}")
            os.makedirs(folder, exist_ok=True)
            out[f"{name}_ms"] += [t * 1000 for t in body(folder)]
        log(f"  round {r}: muster {sorted(out['muster_ms'])[len(out['muster_ms']) // 2]:.1f} ms, "
            f"ideal {sorted(out['ideal_ms'])[len(out['ideal_ms']) // 2]:.1f} ms, "
            f"entr {sorted(out['entr_ms'])[len(out['entr_ms']) // 2]:.1f} ms, muster with a "
            f"{out['fast_debounce_ms']} ms debounce {sorted(out['muster_fast_ms'])[len(out['muster_fast_ms']) // 2]:.1f} ms "
            "(medians so far)")
    window = 5 if quick else 20
    folder = os.path.join(base, "tree")
    tree = os.path.join(folder, "tree")
    t0 = time.monotonic()
    make_tree(tree)
    log(f"  made 100 000 files in {time.monotonic() - t0:.1f} s; idle window {window} s")
    out["tree_window_s"] = window
    out["tree_muster"] = tree_muster(binary, env, folder, window)
    out["tree_entr"] = tree_entr(tree, window)
    out["tree_watchfiles"] = tree_watchfiles(tree, window)
    log(f"  muster {out['tree_muster']}; entr {out['tree_entr']}; watchfiles {out['tree_watchfiles']}")
    return out
