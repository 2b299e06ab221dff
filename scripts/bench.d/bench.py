"""muster's benchmark harness: runs every measurement in one go and writes
BENCHMARKS.md. Started by scripts/bench, which sets MUSTER_BIN, MUSTER_TANSU,
MUSTER_PYTHON and the supervisord paths.

    scripts/bench [--quick] [--runs N] [--output FILE] [--only PART,...]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import coldbench  # noqa: E402
import costbench  # noqa: E402
import dbreport  # noqa: E402
import detectbench  # noqa: E402
import durabilitybench  # noqa: E402
import figures  # noqa: E402
import idealcontender  # noqa: E402
import logbench  # noqa: E402
import mustercontender  # noqa: E402
import restorebench  # noqa: E402
import scalebench  # noqa: E402
import scriptcontenders  # noqa: E402
import suitebench  # noqa: E402
import cachebench  # noqa: E402
import testbench  # noqa: E402
import watchbench  # noqa: E402
import procs  # noqa: E402
import report  # noqa: E402
import stackbench  # noqa: E402

PARTS = ["startup", "detect", "cost", "logs", "scale", "cold", "restore", "suite", "tests", "durability", "watch", "cache"]
# Parts whose sections can be merged into an existing BENCHMARKS.md on their own.
MERGEABLE = {"cold", "restore", "suite", "tests", "durability", "watch", "cache"}


def log(message):
    stamp = time.strftime("%H:%M:%S")
    print(f"bench {stamp} │ {message}", flush=True)


def rotate(items, i):
    i %= len(items)
    return items[i:] + items[:i]


def machine_info(binary, supervisord):
    info = {}
    model = "?"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info["cpu"] = model
    info["cores"] = os.cpu_count()
    info["kernel"] = platform.release()
    try:
        with open("/etc/os-release") as handle:
            fields = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
        info["os"] = fields.get("PRETTY_NAME", "?").strip('"')
    except OSError:
        info["os"] = "?"
    with open("/proc/meminfo") as handle:
        info["memory_gib"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)

    def version(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except Exception:
            return "?"

    info["postgres"] = version([stackbench.PG_BIN + "/postgres", "--version"])
    info["redis"] = version([shutil.which("redis-server") or "redis-server", "--version"])
    info["tansu"] = version([os.environ["MUSTER_TANSU"], "--version"])
    info["supervisord"] = version([supervisord, "--version"])
    info["python"] = platform.python_version()
    repo = os.environ["MUSTER_REPO"]
    rev = version(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no", "--", "Sources", "Package.swift"],
                           capture_output=True, text=True).stdout.strip()
    info["muster_rev"] = rev + (" (with uncommitted changes in Sources/)" if dirty else "")
    info["muster_bin"] = binary
    return info


def cpu_times():
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def busy_since(before):
    busy, total = cpu_times()
    return (busy - before[0]) / max(1, total - before[1]) * 100


def wait_until_quiet(limit_s, threshold=30.0):
    """Waits (up to limit_s) until the machine's CPUs are less than threshold % busy
    over 3 s: the machine is shared, and a build next door skews every figure."""
    deadline = time.monotonic() + limit_s
    while True:
        before = cpu_times()
        time.sleep(3)
        busy = busy_since(before)
        if busy < threshold:
            return busy, True
        if time.monotonic() >= deadline:
            return busy, False
        log(f"machine busy ({busy:.0f} % of all cores, not counting us); waiting for a quieter moment")


def loadavg():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


# --------------------------------------------------------------------------------------


def run_startup(root, binary, env, runs, quick, supervisord, supervisorctl, results):
    contenders = [
        idealcontender.Ideal(root),
        mustercontender.Muster(root, binary, env),
        scriptcontenders.CIScript(root),
        scriptcontenders.Supervisord(root, supervisord, supervisorctl),
    ]
    out = {c.name: {"warm": [], "cold": [], "down_warm": [], "down_cold": [], "errors": [], "leaks": []}
           for c in contenders}
    results["startup"] = out
    results["startup_labels"] = {c.name: c.label for c in contenders}

    def one(contender, mode, round_no):
        cold = mode == "cold"
        record = out[contender.name]
        try:
            up = contender.up(cold)
        except Exception as error:
            record["errors"].append(f"{mode} run {round_no}: up: {error}")
            log(f"  {contender.name} {mode}: FAILED: {error}")
            try:
                contender.down()
            except Exception as down_error:
                record["errors"].append(f"{mode} run {round_no}: down after failed up: {down_error}")
            return
        try:
            down = contender.down()
        except Exception as error:
            record["errors"].append(f"{mode} run {round_no}: down: {error}")
            log(f"  {contender.name} {mode}: down FAILED: {error}")
            return
        up["round"] = round_no
        down["round"] = round_no
        if round_no >= 0:
            record[mode].append(up)
            record["down_" + mode].append({"total": down["total"], "round": round_no, "phases": down.get("phases")})
        leak = {"mode": mode, "round": round_no, "processes": down["leaked_processes"], "ports": down["leaked_ports"],
                "exit_code": down.get("exit_code", 0), "transient": procs.take_transients()}
        record["leaks"].append(leak)
        flag = f" (still exiting at return: {leak['transient']})" if leak["transient"] else ""
        if down["leaked_processes"] or down["leaked_ports"] or down.get("exit_code"):
            flag += f" LEAK {down['leaked_processes']} {down['leaked_ports']} rc={down.get('exit_code')}"
        log(f"  {contender.name:12s} {mode}: up {up['total'] * 1000:8.1f} ms   down {down['total'] * 1000:7.1f} ms{flag}")

    log("start-up: priming each contender once (cold, not counted)")
    for contender in contenders:
        one(contender, "cold", -1)
    modes = ["warm", "cold"]
    for i in range(runs):
        for mode in modes:
            log(f"start-up round {i + 1}/{runs}, {mode}")
            for contender in rotate(contenders, i):
                if quick and mode == "cold" and contender.name in ("ci-script", "supervisord"):
                    continue
                one(contender, mode, i)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 runs, short windows, smaller volumes")
    parser.add_argument("--runs", type=int, help="runs per figure (default 5, 3 with --quick)")
    parser.add_argument("--output", help="where to write the report (default BENCHMARKS.md; with --quick, "
                                         ".build-bench/BENCHMARKS.quick.md)")
    parser.add_argument("--only", help="comma-separated parts: " + ",".join(PARTS))
    parser.add_argument("--wait-quiet", type=float, default=None,
                        help="seconds to wait for the machine to be quiet before starting (default 300, 0 with --quick)")
    parser.add_argument("--render", metavar="RAW_JSON",
                        help="only write the report again from the raw figures of an earlier run")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (for debugging)")
    args = parser.parse_args()

    repo = os.environ["MUSTER_REPO"]
    if args.render:
        with open(args.render) as handle:
            results = json.load(handle)
        if "scale" in results:
            results["scale"] = {int(n): v for n, v in results["scale"].items()}
        output = args.output or (os.path.join(repo, ".build-bench", "BENCHMARKS.quick.md") if results.get("quick")
                                 else os.path.join(repo, "BENCHMARKS.md"))
        print(write_report(results, output, results.get("quick", False)))
        log(f"wrote {output} from {args.render}")
        return 0
    binary = os.environ["MUSTER_BIN"]
    supervisord = os.environ["BENCH_SUPERVISORD"]
    supervisorctl = os.environ["BENCH_SUPERVISORCTL"]
    runs = args.runs or (3 if args.quick else 5)
    parts = args.only.split(",") if args.only else PARTS
    output = args.output or (os.path.join(repo, ".build-bench", "BENCHMARKS.quick.md") if args.quick
                             else os.path.join(repo, "BENCHMARKS.md"))
    stackbench.PG_BIN = stackbench.postgres_bin()
    procs.install_signal_handlers()

    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env.pop("MUSTER_BIN", None)

    wait = args.wait_quiet if args.wait_quiet is not None else (0 if args.quick else 300)
    quiet = None
    if wait > 0:
        quiet = wait_until_quiet(wait)
    root = tempfile.mkdtemp(prefix="muster-bench-")
    os.chmod(root, 0o755)
    procs.add_root(root)
    started = datetime.datetime.now(datetime.timezone.utc)
    wall0 = time.monotonic()
    results = {"runs": runs, "quick": args.quick, "parts": parts, "errors": {}, "load_before": loadavg(),
               "quiet_before": quiet}
    cpu_before = cpu_times()
    results["machine"] = machine_info(binary, supervisord)
    log(f"muster {results['machine']['muster_rev']} ({binary}); temp dir {root}; load {results['load_before']}")
    try:
        if "startup" in parts:
            try:
                # the start-up figures are the noisiest on a shared machine: two more rounds in a full run
                # Start-up gets more rounds: cold runs are dominated by initdb, whose own time
                # varies by a third from run to run here, and the ratios are taken per round.
                startup_runs = runs if (args.quick or args.runs) else runs + 6
                results["startup_runs"] = startup_runs
                run_startup(root, binary, env, startup_runs, args.quick, supervisord, supervisorctl, results)
            except Exception as error:
                results["errors"]["startup"] = traceback.format_exc()
                log(f"start-up failed: {error}")
        if "detect" in parts:
            log("detection latency")
            try:
                samples = 5 if args.quick else 10
                results["detect"] = detectbench.detection(binary, env, root, samples, pg_samples=3 if args.quick else 5)
                d = results["detect"]
                log(f"  exited {fmt_list(d['exited_ms'])} ms; restarted {fmt_list(d['restarted_ms'])} ms; "
                    f"restart_detected: {d['restart_detected_status']}")
            except Exception as error:
                results["errors"]["detect"] = traceback.format_exc()
                log(f"detection failed: {error}")
        if "cost" in parts:
            window = 10 if args.quick else 60
            log(f"supervisor cost: default stack for {window} s")
            try:
                results["cost"] = costbench.supervisor_cost(binary, env, root, repo, window)
                c = results["cost"]
                log(f"  RSS {c['rss_kb_max'] / 1024:.1f} MB, CPU {c['cpu_percent']:.2f} %")
            except Exception as error:
                results["errors"]["cost"] = traceback.format_exc()
                log(f"cost failed: {error}")
        if "logs" in parts:
            size = 200_000_000 if args.quick else 1_000_000_000
            log(f"log throughput: {size / 1e6:.0f} MB")
            try:
                results["logs"] = logbench.log_throughput(binary, env, root, size, runs)
                g = results["logs"]
                log(f"  /dev/null {fmt_list(g['devnull_s'])} s; muster {fmt_list(g['muster_s'])} s; "
                    f"complete {g['complete']}")
            except Exception as error:
                results["errors"]["logs"] = traceback.format_exc()
                log(f"logs failed: {error}")
        if "scale" in parts:
            sizes = [10, 100, 500]
            log(f"scale: {sizes}")
            try:
                results["scale"] = scalebench.scale(binary, env, root, sizes, runs)
                for n, s in results["scale"].items():
                    log(f"  {n}: up {fmt_list(s['muster_up_s'])} s, down {fmt_list(s['muster_down_s'])} s")
            except Exception as error:
                results["errors"]["scale"] = traceback.format_exc()
                log(f"scale failed: {error}")
        for part, body in (("cold", lambda: coldbench.cold_start(binary, env, root, runs, args.quick, log)),
                           ("restore", lambda: restorebench.restore(binary, env, root, runs, args.quick, log)),
                           ("suite", lambda: suitebench.suite(binary, env, root, runs, args.quick, log)),
                           ("tests", lambda: testbench.tests(binary, env, root, runs, args.quick, log)),
                           ("durability", lambda: durabilitybench.durability(binary, env, root, runs, args.quick, log)),
                           ("watch", lambda: watchbench.watch(binary, env, root, runs, args.quick, log)),
                           ("cache", lambda: cachebench.cache(binary, env, root, runs, args.quick, log))):
            if part not in parts:
                continue
            log(f"part {part}; load {loadavg()}")
            load0 = loadavg()
            cpu0 = cpu_times()
            try:
                results[part] = body()
                results[part]["load"] = {"before": load0, "after": loadavg(), "busy_percent": busy_since(cpu0)}
            except Exception as error:
                results["errors"][part] = traceback.format_exc()
                log(f"{part} failed: {error}")
    except KeyboardInterrupt:
        log("interrupted; tearing down")
        results["errors"]["interrupted"] = "the run was interrupted"
    finally:
        procs.cleanup_all()
        leftovers = procs.processes_under(root)
        results["leftovers_at_exit"] = leftovers
        if not args.keep_temp:
            shutil.rmtree(root, ignore_errors=True)
    results["load_after"] = loadavg()
    results["machine_busy_percent"] = busy_since(cpu_before)
    results["started"] = started.strftime("%Y-%m-%d %H:%M UTC")
    results["duration_s"] = time.monotonic() - wall0
    only_new = set(parts) <= MERGEABLE
    raw = os.path.join(repo, ".build-bench", "bench-results" + ("-db" if only_new else "")
                       + ("-quick" if args.quick else "") + ".json")
    os.makedirs(os.path.dirname(raw), exist_ok=True)
    with open(raw, "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    print()
    print(write_report(results, output, args.quick))
    log(f"wrote {output} (raw figures: {raw}) in {results['duration_s']:.0f} s")
    if leftovers:
        log(f"WARNING: processes left under the temp dir: {leftovers}")
        return 1
    return 0


def write_report(results, output, quick):
    """The full report; or, for a run of only the cold / restore / tests / durability parts with
    an existing report at output, just their sections merged into it (the other
    sections and their figures stay as they are). Returns a summary to print."""
    parts = set(results.get("parts") or [])
    if parts and parts <= MERGEABLE and os.path.exists(output):
        with open(output) as handle:
            text = dbreport.merge(handle.read(), results)
        with open(output, "w") as handle:
            handle.write(text)
        summary = figures.Table()
        dbreport.add_to_summary(results, summary, lambda _name, ok: figures.verdict(ok) if ok is not None else figures.INFO, [])
        return summary.text() + f"\n\n(sections {', '.join(sorted(parts))} merged into {output})"
    text, summary = report.render(results, quick=quick)
    with open(output, "w") as handle:
        handle.write(text)
    return summary


def fmt_list(values):
    if not values:
        return "-"
    return "/".join(f"{v:.1f}" if v >= 10 else f"{v:.3f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
