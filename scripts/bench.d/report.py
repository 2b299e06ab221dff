"""Turns the harness's raw figures into BENCHMARKS.md."""

import statistics

MET = "met"
MISSED = "**missed**"
INFO = "—"


def stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)


def ms(seconds):
    if seconds is None:
        return "–"
    value = seconds * 1000
    if value >= 10_000:
        return f"{seconds:.1f} s"
    if value >= 1_000:
        return f"{seconds:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def ratio(value):
    return "–" if value is None else f"{value:.2f}×"


def totals(entries):
    return [e["total"] for e in entries]


def by_round(entries):
    return {e["round"]: e["total"] for e in entries}


def paired_ratios(numerators, denominators):
    a, b = by_round(numerators), by_round(denominators)
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def paired_excess(numerators, denominators, factor, slack):
    """Per round: muster's time minus the limit from the same round's ideal."""
    a, b = by_round(numerators), by_round(denominators)
    return [a[r] - (factor * b[r] + slack) for r in sorted(a) if r in b]


def judge_paired(numerators, denominators, factor, slack):
    excess = paired_excess(numerators, denominators, factor, slack)
    if not excess:
        return None, None
    med = statistics.median(excess)
    return med <= 0, med


class Table:
    def __init__(self):
        self.rows = []

    def add(self, figure, values, fmt, target=INFO, result=INFO):
        s = stats(values)
        if s is None:
            self.rows.append([figure, "not measured", "", "", "0", target, result])
            return
        med, lo, hi, n = s
        self.rows.append([figure, fmt(med), fmt(lo), fmt(hi), str(n), target, result])

    def text(self):
        head = ["Figure", "Median", "Min", "Max", "Runs", "Target", "Result"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows:
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines)


def verdict(ok):
    return MET if ok else MISSED


def render(results, quick):
    out = []
    summary = Table()
    missed = []

    def judge(name, ok):
        if ok is False:
            missed.append(name)
        return verdict(ok) if ok is not None else INFO

    machine = results["machine"]
    runs = results["runs"]
    out.append("# Benchmarks")
    out.append("")
    out.append(f"Measured {results['started']} by `scripts/bench{' --quick' if quick else ''}` "
               f"({runs} alternating runs per figure, {results.get('startup_runs', runs)} for start-up and teardown; "
               f"{results['duration_s'] / 60:.1f} minutes in all) on "
               f"{machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}. "
               f"muster {machine['muster_rev']}, release build.")
    out.append("")
    out.append(f"The machine is shared (2 cores): its CPUs were {results.get('machine_busy_percent', 0):.0f} % busy on "
               "average during the run, the harness and its contenders included, so the spread between the "
               "fastest and the slowest run is wide; compare medians, and ratios within a round.")
    out.append("")
    out.append("Every figure is the median of the runs, with the fastest and the slowest beside it. "
               "Contenders alternate run by run (the order rotates each round), so a slow moment of the "
               "machine hits all of them alike. Ratios are computed per round (muster's run ÷ the other "
               "contender's run of the same round) and summarised the same way. A target relative to the "
               "ideal is judged per round too (muster's run against the limit computed from the ideal's run "
               "of the same round) and counts as met when it is met in the median round; the limit shown "
               "beside it is the one computed from the ideal's median.")
    out.append("")

    # ---------------------------------------------------------------- start-up
    st = results.get("startup")
    sections = []
    if st:
        ideal, must, ci, sup = st["ideal"], st["muster"], st["ci-script"], st["supervisord"]
        def against_ideal(label, key, factor, slack, target, verdict):
            """muster's runs judged per round against a limit computed from the ideal's."""
            limit = factor * stats(totals(ideal[key]))[0] + slack if ideal[key] and must[key] else None
            ok = judge_paired(must[key], ideal[key], factor, slack)[0] if limit else None
            summary.add(label, totals(must[key]), ms,
                        f"{target} (at the medians: {ms(limit)})" if limit else target, judge(verdict, ok))

        summary.add("Ideal critical path, warm (Postgres data dir exists)", totals(ideal["warm"]), ms)
        against_ideal("`muster up -d`, warm", "warm", 1.15, 0.030, "≤ 1.15× ideal + 30 ms",
                      "muster up -d warm ≤ 1.15× ideal + 30 ms")
        summary.add("muster ÷ ideal, warm (1 = the physical limit)", paired_ratios(must["warm"], ideal["warm"]), ratio)
        summary.add("Ideal critical path, cold (`initdb` first)", totals(ideal["cold"]), ms)
        against_ideal("`muster up -d`, cold", "cold", 1.10, 0.0, "≤ 1.10× ideal", "muster up -d cold ≤ 1.10× ideal")
        summary.add("muster ÷ ideal, cold", paired_ratios(must["cold"], ideal["cold"]), ratio)
        summary.add("CI shell script, warm", totals(ci["warm"]), ms)
        summary.add("muster ÷ CI shell script, warm (< 1: muster is faster)", paired_ratios(must["warm"], ci["warm"]), ratio)
        summary.add("supervisord + loops, warm", totals(sup["warm"]), ms)
        summary.add("muster ÷ supervisord, warm (< 1: muster is faster)", paired_ratios(must["warm"], sup["warm"]), ratio)
        if ci["cold"]:
            summary.add("CI shell script, cold", totals(ci["cold"]), ms)
            summary.add("muster ÷ CI shell script, cold", paired_ratios(must["cold"], ci["cold"]), ratio)
        if sup["cold"]:
            summary.add("supervisord + loops, cold", totals(sup["cold"]), ms)
            summary.add("muster ÷ supervisord, cold", paired_ratios(must["cold"], sup["cold"]), ratio)
        summary.add("Ideal teardown (signal each server, wait for exit)", totals(ideal["down_warm"]), ms)
        against_ideal("`muster down`", "down_warm", 1.2, 0.0, "≤ 1.2× ideal", "muster down ≤ 1.2× ideal")
        summary.add("muster down ÷ ideal", paired_ratios(must["down_warm"], ideal["down_warm"]), ratio)
        downs = [l for l in must["leaks"]]
        leaky = [l for l in downs if l["processes"] or l["ports"] or l["exit_code"]]
        transient = sum(len(l.get("transient") or []) for l in downs)
        summary.rows.append(["Processes / listening ports left after `muster down`"
                             + (f" ({transient} still exiting at return, gone within 1 s)" if transient else ""),
                             f"{sum(len(l['processes']) for l in downs)} / {sum(len(l['ports']) for l in downs)}",
                             "", "", str(len(downs)), "0 / 0 after every down",
                             judge("no leak after muster down", not leaky and bool(downs))])
        sections.append(startup_section(results, st))

    # ---------------------------------------------------------------- detection
    det = results.get("detect")
    if det:
        ex = stats(det["exited_ms"])
        summary.add("Detection: SIGKILL → `exited` event", [v / 1000 for v in det["exited_ms"]], ms, "median ≤ 20 ms",
                    judge("detection ≤ 20 ms", ex[0] <= 20 if ex else False))
        summary.add("Detection: SIGKILL → `restarted` event (incl. 100 ms backoff)",
                    [v / 1000 for v in det["restarted_ms"]], ms)
        if det["restart_detected_ms"]:
            missed_pg = det.get("restart_detected_missed", 0)
            summary.add("Postgres backend SIGKILL → `restart_detected`"
                        + (f" ({missed_pg} of {missed_pg + len(det['restart_detected_ms'])} kills not detected)"
                           if missed_pg else ""),
                        [v / 1000 for v in det["restart_detected_ms"]], ms)
        else:
            summary.rows.append(["Postgres backend SIGKILL → `restart_detected`", "not measured yet", "", "", "0",
                                 INFO, INFO])
        sections.append(detect_section(det))

    # ---------------------------------------------------------------- cost
    cost = results.get("cost")
    if cost:
        rss = cost["rss_kb_max"] / 1024
        summary.rows.append([f"Supervisor RSS, default stack, {cost['window_s']} s (max of samples)",
                             f"{rss:.1f} MB", f"{min(cost['rss_kb_samples']) / 1024:.1f} MB", f"{rss:.1f} MB",
                             str(len(cost["rss_kb_samples"])) + " samples", "≤ 30 MB", judge("supervisor RSS ≤ 30 MB", rss <= 30)])
        if cost.get("pss_kb") is not None:
            summary.rows.append(["Supervisor PSS / anonymous memory (same process, end of window)",
                                 f"{cost['pss_kb'] / 1024:.1f} MB / {cost['anon_kb'] / 1024:.1f} MB", "", "", "1",
                                 INFO, INFO])
        cpu = cost["cpu_percent"]
        summary.rows.append([f"Supervisor CPU, default stack, {cost['window_s']} s (% of one core)",
                             f"{cpu:.2f} %", "", "", "1 window", "≤ 1 %", judge("supervisor CPU ≤ 1 %", cpu <= 1.0)])
        sections.append(cost_section(cost))

    # ---------------------------------------------------------------- logs
    logs = results.get("logs")
    if logs:
        size_mb = logs["size"] / 1e6
        thr = [d / m for d, m in zip(logs["devnull_s"], logs["muster_s"]) if m > 0]
        summary.add(f"{size_mb:.0f} MB of lines to /dev/null (time)", logs["devnull_s"], ms)
        summary.add(f"{size_mb:.0f} MB of lines through muster to its log (time)", logs["muster_s"], ms)
        tm = stats(thr)
        summary.add("Log throughput: muster ÷ /dev/null (speed)", thr, ratio, "≥ 0.5",
                    judge("log throughput ≥ 0.5 of /dev/null", tm[0] >= 0.5 if tm else False))
        thr_file = [f / m for f, m in zip(logs["file_s"], logs["muster_s"]) if m > 0]
        summary.add("Log throughput: muster ÷ the same command `> file` (speed)", thr_file, ratio)
        thr_plain = [d / f for d, f in zip(logs["devnull_s"], logs["file_s"]) if f > 0]
        summary.add("Log throughput: `> file` ÷ /dev/null (speed, the disk's own limit)", thr_plain, ratio)
        complete = logs["complete"]
        summary.rows.append(["Log file complete (byte count)", f"{sum(complete)}/{len(complete)} runs", "", "",
                             str(len(complete)), "every run", judge("log file complete", bool(complete) and all(complete))])
        sections.append(logs_section(logs))

    # ---------------------------------------------------------------- scale
    sc = results.get("scale")
    if sc:
        sizes = sorted(int(n) for n in sc)
        for n in sizes:
            s = sc[n] if n in sc else sc[str(n)]
            target, result = INFO, INFO
            if n == 500:
                m = stats(s["muster_up_s"])
                target = "≤ 5 s"
                result = judge("500 services ready ≤ 5 s", m[0] <= 5 if m else False)
            summary.add(f"Scale: {n} services to all-ready", s["muster_up_s"], ms, target, result)
        for n in sizes:
            s = sc[n] if n in sc else sc[str(n)]
            summary.add(f"Scale: {n} services torn down", s["muster_down_s"], ms)
        lin = linearity(sc)
        if lin:
            summary.rows.append(["Scale: growth 100 → 500 services (up, per added service)", lin["text"], "", "", "",
                                 "linear", judge("scale linear", lin["ok"])])
        leaks = sum((sc[n] if n in sc else sc[str(n)])["leaks"] for n in sizes)
        transient = sum(len(t.get("transient") or []) for n in sizes
                        for t in (sc[n] if n in sc else sc[str(n)]).get("teardowns", []))
        summary.rows.append(["Scale: downs with a leftover or a failure"
                             + (f" ({transient} processes still exiting at return, gone within 1 s)" if transient else ""),
                             str(leaks), "", "", "", "0", judge("scale: no leak", leaks == 0)])
        sections.append(scale_section(sc, sizes, lin))

    # ---------------------------------------------------------------- cold, restore, tests
    import dbreport  # here: dbreport imports this module's helpers
    dbreport.add_to_summary(results, summary, judge, sections)

    out.append(summary.text())
    out.append("")
    if missed:
        out.append("Targets missed: " + "; ".join(missed) + ".")
    else:
        out.append("Every target measured here is met.")
    out.append("")
    if results["errors"]:
        out.append("## Errors during the run")
        out.append("")
        for part, text in results["errors"].items():
            out.append(f"- **{part}**:")
            out.append("")
            out.append("  ```")
            out.extend("  " + line for line in text.strip().splitlines()[-12:])
            out.append("  ```")
        out.append("")
    out.append(reproduce_section(machine, results))
    out.extend(sections)
    out.append(method_section())
    summary_text = summary.text() + "\n\n" + (("Targets missed: " + "; ".join(missed)) if missed else "All targets met.")
    return "\n".join(out).rstrip() + "\n", summary_text


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


def startup_section(results, st):
    labels = results["startup_labels"]
    lines = ["## Start-up and teardown of the bench stack", ""]
    lines.append("The bench stack: Postgres 15 (`engine: postgres`, no role or database beyond `postgres`), Redis "
                 "(`engine: redis`), Tansu (`engine: kafka`, `implementation: tansu`), `web` (Python's "
                 "`http.server`, depends on db and cache, ready on HTTP 200) and `worker` (`echo ready; exec sleep "
                 "1000`, depends on bus, ready on the log line). Every port is `auto` for muster and a free port "
                 "chosen by the harness for the others. Warm: the Postgres data dir exists from an earlier run; "
                 "cold: it is deleted first, so `initdb` runs (same flags as muster's).")
    lines.append("")
    lines.append("| Contender | warm median (min–max) | cold median (min–max) | teardown after warm | teardown after cold |")
    lines.append("|---|---|---|---|---|")
    for name in ("ideal", "muster", "ci-script", "supervisord"):
        r = st[name]

        def cell(entries):
            s = stats(totals(entries))
            return f"{ms(s[0])} ({ms(s[1])}–{ms(s[2])})" if s else "–"
        lines.append(f"| {labels[name]} | {cell(r['warm'])} | {cell(r['cold'])} | {cell(r['down_warm'])} | "
                     f"{cell(r['down_cold'])} |")
    lines.append("")
    # per-service breakdown
    lines.append("Per service, warm and cold (medians; offsets from the start of the run: when the process "
                 "was spawned → when it was found ready). For muster they come from the `starting` and "
                 "`ready` events in events.jsonl, measured from the moment `muster up -d` was launched; the last "
                 "row is when the command returned.")
    lines.append("")
    lines.append("| Service | ideal warm | muster warm | ideal cold | muster cold |")
    lines.append("|---|---|---|---|---|")

    def offsets(entries, key):
        s = stats([e["services"].get(key) for e in entries if isinstance(e["services"].get(key), (int, float))])
        return s[0] if s else None

    for service in ("db", "cache", "bus", "web", "worker"):
        cells = []
        for name, mode in (("ideal", "warm"), ("muster", "warm"), ("ideal", "cold"), ("muster", "cold")):
            entries = st[name][mode]
            spawn, ready = offsets(entries, service + ".spawn"), offsets(entries, service)
            cells.append(f"{ms(spawn)} → {ms(ready)}" if ready is not None else "–")
        lines.append(f"| {service} | " + " | ".join(cells) + " |")
    init_w = offsets(st["ideal"]["cold"], "db.initdb")
    cells = []
    for name, mode in (("ideal", "warm"), ("muster", "warm"), ("ideal", "cold"), ("muster", "cold")):
        s = stats(totals(st[name][mode]))
        cells.append(ms(s[0]) if s else "–")
    lines.append("| **all ready / command returned** | " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(startup_observations(st, offsets))
    if init_w is not None:
        lines.append(f"In the ideal cold runs `initdb` alone ends at {ms(init_w)} (median).")
        lines.append("")
    problems = []
    for name in ("ideal", "muster", "ci-script", "supervisord"):
        for error in st[name]["errors"]:
            problems.append(f"- {labels[name]}: {error}")
        for leak in st[name]["leaks"]:
            run = "primed run" if leak["round"] < 0 else f"{leak['mode']} run {leak['round'] + 1}"
            if leak["processes"] or leak["ports"] or leak["exit_code"]:
                problems.append(f"- {labels[name]}, {run}: left processes "
                                f"{leak['processes']}, ports {leak['ports']}, exit code {leak['exit_code']}")
            if leak.get("transient"):
                problems.append(f"- {labels[name]}, {run}: still exiting when the teardown returned (gone within "
                                f"1 s): {'; '.join(leak['transient'])}")
    lines.append("Leak check after each teardown (every contender, primed run included): no process whose working "
                 "directory or command line is under the contender's temp dir, none of the service pids (nor, for "
                 "muster, the supervisor) alive, none of the ports listening. Anything seen right after the "
                 "teardown returned is looked at again one second later: what is gone by then is reported as "
                 "still exiting, what is still there as left over.")
    lines.append("")
    if problems:
        lines.append("Problems seen:")
        lines.append("")
        lines.extend(problems)
    else:
        lines.append(f"Nothing was left after any of the {sum(len(st[n]['leaks']) for n in st if n in labels)} "
                     "teardowns, and no run failed.")
    lines.append("")
    return "\n".join(lines)


def startup_observations(st, offsets):
    """Where muster's extra time goes, from its own event log (medians of the warm runs)."""
    lines = []
    services = ("db", "cache", "bus", "web", "worker")

    def per_run(entries, fn):
        values = []
        for entry in entries:
            try:
                value = fn(entry)
            except (KeyError, TypeError, ValueError):
                continue
            if value is not None:
                values.append(value)
        s = stats(values)
        return s[0] if s else None

    def first_spawn(entry):
        return min(entry["services"][name + ".spawn"] for name in services)

    def last_ready(entry):
        return max(entry["services"][name] for name in services)

    m, i = st["muster"]["warm"], st["ideal"]["warm"]
    m_first, i_first = per_run(m, first_spawn), per_run(i, first_spawn)
    m_last = per_run(m, last_ready)
    m_tail = per_run(m, lambda e: e["total"] - last_ready(e))
    m_span = per_run(m, lambda e: last_ready(e) - first_spawn(e))
    i_span = per_run(i, lambda e: last_ready(e) - first_spawn(e))
    if None not in (m_first, i_first, m_last, m_tail, m_span, i_span):
        lines.append("Where muster's extra time goes (warm, medians):")
        lines.append("")
        lines.append(f"- before the first service is spawned: {ms(m_first)} after `muster up -d` is launched "
                     f"(the ideal: {ms(i_first)}). This is the `up -d` command's own start-up (loading, argument "
                     "parsing, reading the stack file), the fork of the detached supervisor from it, and the "
                     "supervisor's set-up (lock, ports, plans, event log, control socket) before its first spawn.")
        lines.append(f"- from the first spawn to the last service ready: {ms(m_span)} (the ideal: {ms(i_span)}).")
        lines.append(f"- from the last `ready` event to `up -d` returning: {ms(m_tail)}.")
    downs = st["muster"]["down_warm"]
    first = per_run(downs, lambda e: e["phases"]["first_stopping"])
    last = per_run(downs, lambda e: e["phases"]["last_stopped"])
    tail = per_run(downs, lambda e: e["total"] - e["phases"]["last_stopped"])
    span = per_run(downs, lambda e: e["phases"]["last_stopped"] - e["phases"]["first_stopping"])
    ideal_down = stats(totals(st["ideal"]["down_warm"]))
    if None not in (first, last, tail, span) and ideal_down:
        lines.append(f"- `muster down`: the first `stopping` event comes {ms(first)} after the command is launched; "
                     f"the services are all stopped {ms(span)} later (the ideal's whole teardown: "
                     f"{ms(ideal_down[0])}); the command exits {ms(tail)} after the last `stopped` event.")
    if lines:
        lines.append("")
    return lines


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


def reproduce_section(machine, results):
    lines = ["## How to reproduce", ""]
    lines.append("```sh")
    lines.append("scripts/bench            # the full run (6 to 12 minutes, after up to 5 waiting for a quiet machine); writes BENCHMARKS.md")
    lines.append("scripts/bench --quick    # a smoke check: 3 runs, shorter windows, 200 MB of logs; writes .build-bench/BENCHMARKS.quick.md")
    lines.append("MUSTER_BIN=/path/to/muster scripts/bench   # measure a given binary instead of building one")
    import dbreport  # here: dbreport imports this module's helpers
    lines.append(dbreport.PARTS_LINE)
    lines.append(dbreport.REPRODUCE)
    lines.append("scripts/bench --render .build-bench/bench-results.json   # rewrite this file from the saved figures")
    lines.append("```")
    lines.append("")
    lines.append("Without `MUSTER_BIN`, scripts/bench builds `swift build -c release --static-swift-stdlib --product muster --scratch-path "
                 ".build-bench`. It installs what is missing first (scripts/install-deps, and Debian's `supervisor` "
                 "package), runs as root (Postgres then runs as `postgres`, as muster does), and leaves no process "
                 "behind: every server, supervisor and script is in a process group the harness kills on exit, "
                 "whatever happens. Raw figures go to `.build-bench/bench-results.json`.")
    lines.append("")
    lines.append("### The machine")
    lines.append("")
    lines.append(f"- CPU: {machine['cpu']}, {machine['cores']} cores; memory {machine['memory_gib']} GiB")
    lines.append(f"- kernel: Linux {machine['kernel']}; OS: {machine['os']}")
    lines.append(f"- {machine['postgres']}; {machine['redis']}; {machine['tansu']}; supervisord "
                 f"{machine['supervisord']}; Python {machine['python']}")
    lines.append(f"- muster {machine['muster_rev']}")
    quiet = results.get("quiet_before")
    quiet_text = ""
    if quiet:
        quiet_text = (f" Before starting, the harness waited for the CPUs to be under 30 % busy: "
                      f"{'reached' if quiet[1] else 'not reached'} ({quiet[0]:.0f} %).")
    lines.append(f"- load average (1, 5, 15 min) before the run: {results['load_before']}; after: "
                 f"{results['load_after']}; the CPUs were {results.get('machine_busy_percent', 0):.0f} % busy on "
                 f"average during the run (the harness and its contenders included).{quiet_text} The machine is "
                 "shared (2 cores): other work running at the same time shows up in the min–max spread.")
    lines.append("")
    return "\n".join(lines)


def method_section():
    return """## Method

- **Ideal** (the physical limit): the harness starts db, cache and bus at once, each from its own
  thread, with the same argv as muster (Postgres as the `postgres` user, `-c listen_addresses=127.0.0.1
  -c unix_socket_directories=… -c max_connections=200`; Redis without persistence; Tansu with the memory
  storage engine), and polls each every 2 ms: Postgres with a real libpq connection (psycopg2) over TCP
  and `SELECT 1`; Redis with `PING` → `+PONG` over a socket; Tansu with a Kafka **Metadata** request
  (v1) that must list the broker itself on its port. `web` starts the moment db and cache answer and is
  polled with `GET /` every 2 ms; `worker` starts the moment bus answers and is ready when its `ready`
  line comes out of its pipe. Teardown: SIGTERM to web and worker, wait; then SIGINT to Postgres (fast
  shutdown), SIGTERM to Redis and SIGINT to Tansu (muster's stop signals) at once, and wait for all three.
- **muster**: the same stack as YAML (`port: auto` everywhere), `muster up -d` timed from launch to exit,
  `muster down` likewise. muster's Postgres probe does more than the ideal's: a unix-socket connection
  as `postgres` (recovery check, role and database check, postmaster start time), then a TCP connection
  and `SELECT 1`; its Kafka probe negotiates ApiVersions before Metadata.
- **CI shell script**: one bash script starts the three servers in the background (`setpriv` for
  Postgres, initdb first when cold), then `until pg_isready …; do sleep 1; done`, `until [ "$(redis-cli
  ping)" = PONG ]; …`, starts web, waits for Tansu with a bash `/dev/tcp` connect (TCP accept only, as
  CI scripts commonly do), starts worker, then `until curl -sf …` and `until grep -q ready worker.log`.
  Timed from launch to the script's exit; teardown signals the recorded pids.
- **supervisord**: the same five programs in a supervisord.conf (db, cache, bus autostart; web and
  worker `autostart=false`; `startsecs=0` everywhere, which favours supervisord: its default of 1 s
  would add a second to each `supervisorctl start`), launched from a script that runs the same loops
  and `supervisorctl start web` / `start worker` once their dependencies answer. Teardown: SIGTERM to
  supervisord, which stops every program with its stopsignal.
- Leak check after every teardown: /proc is scanned for any process whose cwd or command line is under
  that contender's temp dir, the service pids from before the teardown must be gone (zombies count as
  gone), and /proc/net/tcp{,6} must show none of the ports listening.
"""
