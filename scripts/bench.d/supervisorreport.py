"""The sections of BENCHMARKS.md on the supervisor at work: how soon it reports an
exit, what it costs while a stack runs, how fast logs pass through it, and how it
scales to 500 services."""

from figures import ms, stats


def linearity(sc):
    def med(n, key):
        s = sc.get(n) or sc.get(str(n))
        r = stats(s[key]) if s else None
        return r[0] if r else None

    t10, t100, t500 = med(10, "muster_up_s"), med(100, "muster_up_s"), med(500, "muster_up_s")
    if None in (t10, t100, t500):
        return None
    slope_low = (t100 - t10) / 90
    slope_high = (t500 - t100) / 400
    predicted = t100 + slope_low * 400
    # linear: the cost per added service from 100 to 500 is at most 1.5x the one from 10 to 100
    ok = slope_high <= 1.5 * slope_low or t500 <= predicted * 1.25
    text = (f"{slope_high * 1000:.2f} ms/service (10 → 100: {slope_low * 1000:.2f} ms/service; "
            f"500 predicted from 10/100: {ms(predicted)})")
    return {"ok": ok, "text": text, "slope_low": slope_low, "slope_high": slope_high, "predicted": predicted}


def detect_section(det):
    lines = ["## Detection latency", ""]
    lines.append(f"A stack of {len(det['exited_ms']) or 'n'} services `echo ready; exec sleep 1000` with `restart: "
                 "on-failure`, plus a Postgres. Each service's process is SIGKILLed once (so each restart is a "
                 "first failure, with muster's first backoff of 100 ms), 250 ms apart; the latency is from just "
                 "before `kill()` to the `time` field of the `exited` event (and of the `restarted` event) with "
                 "that pid in events.jsonl. Both clocks are the system's real-time clock.")
    lines.append("")
    for key, label in (("exited_ms", "→ exited"), ("restarted_ms", "→ restarted")):
        values = det[key]
        if values:
            lines.append(f"- SIGKILL {label}: " + ", ".join(f"{v:.1f}" for v in values) + " ms")
    lines.append("")
    if det["restart_detected_ms"]:
        lines.append("Postgres in-place crash reinit (a backend SIGKILLed, the postmaster restarts all backends): "
                     "SIGKILL → `restart_detected`: " + ", ".join(f"{v:.1f}" for v in det["restart_detected_ms"]) + " ms.")
    else:
        lines.append(f"Postgres in-place crash reinit: {det['restart_detected_status']}. (db events after the "
                     f"kill: {', '.join(det.get('db_events_after_kill') or []) or 'none'}.)")
    for note in det.get("notes", []):
        lines.append(f"- {note}")
    lines.append("")
    return "\n".join(lines)


def cost_section(cost):
    lines = ["## Supervisor cost", ""]
    lines.append(f"stacks/default.yaml (copied with stacks/app to a temp dir, `MUSTER_PYTHON` set) brought up with "
                 f"`muster up -d` (took {cost['up_s']:.1f} s), then the supervisor process (`supervisor_pid` of "
                 f"`muster ps --json`) observed for {cost['measured_s']:.1f} s: VmRSS from /proc/PID/status every "
                 "0.5 s, CPU from utime+stime in /proc/PID/stat at both ends of the window.")
    lines.append("")
    lines.append(f"- RSS: median {cost['rss_kb_median'] / 1024:.1f} MB, max {cost['rss_kb_max'] / 1024:.1f} MB "
                 f"(VmHWM {cost['hwm_kb'] / 1024:.1f} MB), {cost['threads']} threads")
    if cost.get("pss_kb") is not None:
        lines.append(f"- at the end of the window (smaps_rollup): PSS {cost['pss_kb'] / 1024:.1f} MB, anonymous "
                     f"{cost['anon_kb'] / 1024:.1f} MB, file-backed resident {cost['file_rss_kb'] / 1024:.1f} MB "
                     "(the statically linked binary with the Swift runtime, Foundation and ICU, and the few "
                     "shared libraries it maps: libc, libstdc++, libm)")
        if cost.get("top_mappings"):
            lines.append("- largest resident mappings: " + ", ".join(
                f"{name} {kb / 1024:.1f} MB" for name, kb in cost["top_mappings"]))
    lines.append(f"- CPU: {cost['cpu_ticks']} ticks of 1/{cost['hz']} s in {cost['measured_s']:.1f} s = "
                 f"{cost['cpu_percent']:.2f} % of one core")
    if cost.get("guardian"):
        g = cost["guardian"]
        lines.append(f"- the guardian process beside it: RSS {g['rss_kb'] / 1024:.1f} MB, CPU {g['cpu_percent']:.2f} %")
    lines.append(f"- service restarts during the window: {cost.get('restarts_during_window', '?')}")
    lines.append("")
    return "\n".join(lines)


def logs_section(logs):
    size_mb = logs["size"] / 1e6
    lines = ["## Log throughput", ""]
    lines.append(f"A task `yes '<99 characters>' | head -c {logs['size']}` ({size_mb:.0f} MB in 100-byte lines): "
                 "through muster (the time from its `starting` to its `completed` event; its output goes through "
                 "a pipe to the supervisor, which writes `.muster/logs/logs/flood.log`), against the same command "
                 "writing to /dev/null, and (for reference) to a plain file on the same disk.")
    lines.append("")
    for key, label in (("devnull_s", "to /dev/null"), ("file_s", "to a file"), ("muster_s", "through muster"),
                       ("muster_wall_s", "through muster, from launching `up -d`")):
        s = stats(logs[key])
        if s:
            lines.append(f"- {label}: {ms(s[0])} ({ms(s[1])}–{ms(s[2])}), "
                         f"{logs['size'] / s[0] / 1e6:.0f} MB/s")
    lines.append(f"- log file sizes: {', '.join(str(b) for b in logs['log_bytes'])} bytes (expected {logs['size']})")
    growth = logs.get("supervisor_log_growth") or []
    if growth:
        copied = max(growth) >= logs["size"] // 2
        lines.append(f"- `.muster/logs/supervisor.log` (the detached supervisor's own output) grew by "
                     f"{', '.join(str(b) for b in growth)} bytes per run: "
                     + ("the service's output is written a second time there, doubling the disk writes"
                        if copied else "the service's output is not copied there"))
    lines.append("")
    return "\n".join(lines)


def scale_section(sc, sizes, lin):
    lines = ["## Scale", ""]
    lines.append("N services `echo ready; exec sleep 1000` with `ready: { log: ready }`, no dependencies: "
                 "`muster up -d` to all-ready and `muster down`. The reference is the harness spawning the same N "
                 "shells from Python and reading each one's `ready` line (then SIGTERM and wait).")
    lines.append("")
    lines.append("| N | muster up -d | per service | muster down | per service | reference up | reference down |")
    lines.append("|---|---|---|---|---|---|---|")
    for n in sizes:
        s = sc[n] if n in sc else sc[str(n)]

        def cell(key):
            r = stats(s[key])
            return f"{ms(r[0])} ({ms(r[1])}–{ms(r[2])})" if r else "–"
        up = stats(s["muster_up_s"])
        per = f"{up[0] / n * 1000:.2f} ms" if up else "–"
        down = stats(s["muster_down_s"])
        per_down = f"{down[0] / n * 1000:.2f} ms" if down else "–"
        lines.append(f"| {n} | {cell('muster_up_s')} | {per} | {cell('muster_down_s')} | {per_down} | "
                     f"{cell('ideal_up_s')} | {cell('ideal_down_s')} |")
    lines.append("")
    for n in sizes:
        s = sc[n] if n in sc else sc[str(n)]
        for i, t in enumerate(s.get("teardowns", [])):
            if t["leaked_processes"] or t["leaked_ports"] or t["exit_code"]:
                lines.append(f"- {n} services, run {i + 1}: after `muster down` (exit code {t['exit_code']}), still "
                             f"there one second later: {t['leaked_processes']} {t['leaked_ports']}")
            if t.get("transient"):
                lines.append(f"- {n} services, run {i + 1}: still exiting when `muster down` returned (gone within "
                             f"1 s): {'; '.join(t['transient'])}")
    if any((sc[n] if n in sc else sc[str(n)]).get("teardowns") for n in sizes):
        lines.append("")
    if lin:
        lines.append(f"Growth: {lin['text']}. Called linear when the cost per added service from 100 to 500 is at "
                     "most 1.5× the one from 10 to 100, or the 500 figure is within 25 % of the straight line "
                     "through the 10 and 100 figures.")
        lines.append("")
    return "\n".join(lines)
