#!/usr/bin/env python3
"""The control API under load: while pgbench runs 150 clients against the stack's
Postgres and redis-benchmark hammers its Redis, time `GET /v1/status` on the control
socket (what `muster ps` asks) over and over, and report the latency percentiles.

Usage: control_under_load.py MUSTER_BIN WORKDIR SECONDS
Exit 0 when the worst answer took under 100 ms.
"""
import json, os, signal, socket, subprocess, sys, time

muster, workdir, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
stack = os.path.join(workdir, "muster.yaml")
with open(stack, "w") as f:
    f.write("name: soakload\nservices:\n  db:\n    engine: postgres\n    port: auto\n    settings: { max_connections: 200 }\n"
            "  cache:\n    engine: redis\n    port: auto\n")

def run(*args, **kw):
    return subprocess.run([muster, *args], cwd=workdir, capture_output=True, text=True, **kw)

up = run("up", "-d")
if up.returncode != 0:
    print(up.stdout, up.stderr); sys.exit(1)
loads = []
try:
    env = json.loads(run("env", "--format", "json").stdout)
    status = json.loads(run("ps", "--json").stdout)
    sock = os.path.join(workdir, ".muster", "soakload", "run", "control.sock")
    pg = dict(os.environ, PGHOST="127.0.0.1", PGPORT=env["DB_PORT"], PGUSER="postgres", PGDATABASE="postgres")
    bench = "/usr/lib/postgresql/15/bin/pgbench"
    subprocess.run([bench, "-i", "-s", "2", "-q"], env=pg, check=True, capture_output=True)
    loads.append(subprocess.Popen([bench, "-c", "150", "-j", "2", "-T", str(int(seconds) + 5), "-S"], env=pg,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    loads.append(subprocess.Popen(["redis-benchmark", "-p", env["CACHE_PORT"], "-c", "50", "-n", "100000000", "-q"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    time.sleep(2)
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: muster\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        s.close()
        assert b" 200 " in data.split(b"\r\n", 1)[0], data[:80]
        latencies.append((time.monotonic() - start) * 1000)
        time.sleep(0.05)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"control API under load: {len(latencies)} status requests, median {pick(0.5):.1f} ms, "
          f"p99 {pick(0.99):.1f} ms, max {latencies[-1]:.1f} ms (target: every answer < 100 ms)")
    ok = latencies[-1] < 100
finally:
    for p in loads:
        try: os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError: pass
        p.wait()
    down = run("down")
    print(down.stdout.strip())
    if down.returncode != 0: print(down.stderr); ok = False
sys.exit(0 if ok else 1)
