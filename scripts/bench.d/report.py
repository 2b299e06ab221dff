"""Turns the harness's raw figures into BENCHMARKS.md: the summary table of every
part, then each part's section (start-up in startupreport, detection, cost, logs
and scale in supervisorreport, the parts merged on their own in dbreport)."""

import dbreport
from figures import INFO, Table, judge_paired, ms, paired_ratios, ratio, stats, totals, verdict
from startupreport import method_section, startup_section
from supervisorreport import cost_section, detect_section, linearity, logs_section, scale_section


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


def reproduce_section(machine, results):
    lines = ["## How to reproduce", ""]
    lines.append("```sh")
    lines.append("scripts/bench            # the full run (6 to 12 minutes, after up to 5 waiting for a quiet machine); writes BENCHMARKS.md")
    lines.append("scripts/bench --quick    # a smoke check: 3 runs, shorter windows, 200 MB of logs; writes .build-bench/BENCHMARKS.quick.md")
    lines.append("MUSTER_BIN=/path/to/muster scripts/bench   # measure a given binary instead of building one")
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
