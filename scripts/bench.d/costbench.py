"""The supervisor's own cost: its memory and CPU over a window of the default
stack, read from /proc."""

import os
import shutil
import time

import procs
from stackbench import MusterCLI, down_and_check


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
        result["teardown"] = down_and_check(cli, directory, status)
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
