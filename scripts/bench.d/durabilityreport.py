"""The BENCHMARKS.md section of the durability part: `durability: fast` (the
default) against `durability: full`, side by side, with the ratio per round."""

import statistics

import partreport
from figures import INFO, ms, stats, totals


def _thousands(n):
    return f"{n:,}".replace(",", " ")


def _cell(values, fmt=ms):
    s = stats(values)
    if s is None:
        return "not measured"
    med, lo, hi, _ = s
    return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def _per_round(entries, reduce=statistics.median):
    """{round: value}; several entries of one round (the restores) reduced to one."""
    rounds = {}
    for e in entries:
        rounds.setdefault(e["round"], []).append(e["total"])
    return {r: reduce(v) for r, v in rounds.items()}


def _ratios(full, fast, reduce=statistics.median):
    a, b = _per_round(full, reduce), _per_round(fast, reduce)
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def _ratio_cell(values):
    s = stats(values)
    if s is None:
        return "–"
    med, lo, hi, _ = s
    return f"{med:.2f}× ({lo:.2f}–{hi:.2f})"


def p90(values):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(round(0.9 * len(values) + 0.5)) - 1))]


def _checkpoint(mode, key):
    return [c[key] for c in mode["checkpoint"] if key in c]


def _count(n):
    return lambda v: f"{v:.0f}" if v is not None else "–"


def table(d):
    fast, full = d["modes"]["fast"], d["modes"]["full"]
    n = d["restores_per_round"]
    head = ["Figure", "fast, the default: median (min–max)", "full: median (min–max)",
            "full ÷ fast per round: median (min–max)", "Runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(label, key, fmt=ms, reduce=statistics.median):
        runs = f"{len(fast[key])} + {len(full[key])}"
        lines.append(f"| {label} | {_cell(totals(fast[key]), fmt)} | {_cell(totals(full[key]), fmt)} | "
                     f"{_ratio_cell(_ratios(full[key], fast[key], reduce))} | {runs} |")

    def checkpoint_row(label, key, fmt, ratio=True):
        a, b = _checkpoint(fast, key), _checkpoint(full, key)
        ra = {c["round"]: c[key] for c in fast["checkpoint"] if key in c}
        rb = {c["round"]: c[key] for c in full["checkpoint"] if key in c}
        ratios = [rb[r] / ra[r] for r in sorted(rb) if r in ra and ra[r] > 0] if ratio else []
        lines.append(f"| {label} | {_cell(a, fmt)} | {_cell(b, fmt)} | {_ratio_cell(ratios)} | {len(a)} + {len(b)} |")

    row(f"`muster up -d`, cold: the migration ({_thousands(d['rows'])} rows) and the snapshot after it", "seq_up")
    row("then `muster db snapshot db`", "snapshot")
    row("then `muster db restore db`", "restore")
    row(f"then `muster db clone db --count {d['clones']}`", "clone")
    row("**then `muster down`**", "down")
    checkpoint_row("    its shutdown checkpoint, when it completed: buffers written (Postgres's log)", "buffers",
                   _count(0))
    checkpoint_row("    its shutdown checkpoint: files synced", "sync_files", _count(0), ratio=False)
    checkpoint_row("    its shutdown checkpoint: write phase", "write_s", ms)
    checkpoint_row("    its shutdown checkpoint: sync phase (none with `fsync=off`)", "sync_s", ms, ratio=False)
    def count_row(label, count):
        a, b = count(fast), count(full)
        lines.append(f"| {label} | {a[0]} of {a[1]} | {b[0]} of {b[1]} |  | {a[1]} + {b[1]} |")

    count_row("    downs that went on to an immediate shutdown (`stop_timeout`, 10 s, ran out)",
              lambda m: (sum(1 for c in m["checkpoint"] if c.get("immediate")), len(m["checkpoint"])))
    row("`muster up -d` again, warm (the migration finds its tables; the snapshot is taken again)", "up_again")
    count_row("    of which ran crash recovery first (after an immediate shutdown)",
              lambda m: (sum(1 for r in m.get("recovered", []) if r["crash_recovery"]), len(m.get("recovered", []))))
    row(f"**`muster db restore db`, {n} back to back**: each restore", "restores")
    fa, fu = totals(fast["restores"]), totals(full["restores"])
    p90_ratios = _ratios(full["restores"], fast["restores"], p90)
    lines.append(f"|     90th percentile of each restore (all rounds together; ratio per round of each round's) | "
                 f"{ms(p90(fa))} | {ms(p90(fu))} | {_ratio_cell(p90_ratios)} | {len(fa)} + {len(fu)} |")
    row(f"    the {n} together", "restores_total")
    row("then `muster down`", "down_after_restores")
    row("Postgres-only stack: `muster up -d` cold (a fresh folder, a spare cluster ready)", "cold_up")
    row("Postgres-only stack: `muster down` after it", "cold_down")
    row("Postgres-only stack: `muster up -d` warm (its data folder exists)", "warm_up")
    row("Postgres-only stack: `muster down` after it", "warm_down")
    count_row("Commands that failed (listed below the table)",
              lambda m: (len(m.get("failures", [])), _commands(m, d)))
    return "\n".join(lines)


def _commands(mode, d):
    """How many timed muster commands the sequence and the restores ran (or tried)."""
    rounds = len(mode["down"])
    return rounds * (4 + 1 + d["restores_per_round"])


def failure_lines(d):
    lines = []
    for name in ("fast", "full"):
        failures = d["modes"][name].get("failures", [])
        by_step = {}
        for f in failures:
            by_step.setdefault(f["step"], []).append(f)
        for step, found in by_step.items():
            rounds = sorted({f["round"] + 1 for f in found})
            earlier = sorted({STEP_NAMES.get(f["step"], f["step"]) for f in failures
                              if f["round"] + 1 in rounds and ORDER.index(f["step"]) < ORDER.index(step)})
            lines.append(f"- failed with `{name}`: {STEP_NAMES.get(step, step)}, {len(found)} time"
                         f"{'s' if len(found) != 1 else ''} (round{'s' if len(rounds) != 1 else ''} "
                         f"{', '.join(map(str, rounds))}"
                         + (f"; after {' and '.join(earlier)} failed there" if earlier else "")
                         + f"): `{found[0]['error']}`")
    return lines


ORDER = ["seq_up", "snapshot", "restore", "clone", "up_again", "restores", "check"]
STEP_NAMES = {"seq_up": "`up -d` of the migrated stack", "snapshot": "`muster db snapshot db`",
              "restore": "`muster db restore db` in the sequence", "clone": "`muster db clone db --count 4`",
              "up_again": "`up -d` again", "restores": "`muster db restore db` back to back",
              "check": "the check after the restores"}


def rows(d, summary, judge):
    """Rows of the main summary table (a full render) and the verdicts of the merged line."""
    fast, full = d["modes"]["fast"], d["modes"]["full"]
    summary.add("Durability: `down` after snapshot, restore, clone ×4, fast (the default)", totals(fast["down"]), ms)
    summary.add("Durability: the same `down` with `durability: full`", totals(full["down"]), ms)
    summary.add(f"Durability: `db restore`, {d['restores_per_round']} back to back, each, fast",
                totals(fast["restores"]), ms)
    summary.add("Durability: the same with `durability: full`", totals(full["restores"]), ms)


def _median(entries):
    values = totals(entries)
    return statistics.median(values) if values else None


def _change(label, full, fast):
    a, b = _median(full), _median(fast)
    if a is None or b is None:
        return None
    ratios = _ratios(full, fast)
    if not ratios:
        return f"{label}: {ms(a)} → {ms(b)}"
    r = statistics.median(ratios)  # judged per round: the two modes of a round shared the machine's moment
    if r >= 1.15:
        return f"{label}: {ms(a)} → {ms(b)}, {r:.1f}× faster per round"
    if r <= 1 / 1.15:
        return f"{label}: {ms(a)} → {ms(b)}, {1 / r:.1f}× slower per round"
    return f"{label}: {ms(a)} → {ms(b)}, the same within the noise ({r:.2f}× per round)"


def section(results):
    d = results["durability"]
    fast, full = d["modes"]["fast"], d["modes"]["full"]
    lines = [partreport.HEADINGS["durability"], "", partreport.when(results, "durability"), ""]
    lines.append(table(d))
    lines.append("")
    changes = [c for c in (
        _change("`down` after the sequence", full["down"], fast["down"]),
        _change(f"each of {d['restores_per_round']} `db restore` back to back", full["restores"], fast["restores"]),
        _change(f"`db clone --count {d['clones']}`", full["clone"], fast["clone"]),
        _change("`db snapshot`", full["snapshot"], fast["snapshot"]),
        _change("cold `up -d` with the migration", full["seq_up"], fast["seq_up"]),
        _change("cold `up -d`, Postgres only", full["cold_up"], fast["cold_up"]),
        _change("warm `up -d`, Postgres only", full["warm_up"], fast["warm_up"])) if c]
    lines.append("**What changed.** Before issue 24 every Postgres service ran with Postgres's own durability "
                 "settings, which is what `durability: full` gives now; `durability: fast` is the new default. "
                 "Medians, full (before) → fast (now): " + "; ".join(changes) + ".")
    lines.append("")
    lines.extend(down_paragraph(fast, full))
    failures = failure_lines(d)
    if failures:
        lines.append("**Commands that failed.**")
        lines.append("")
        lines.extend(failures)
        every = [f for m in (fast, full) for f in m.get("failures", [])]
        if any("timed out after 5s" in f["error"] for f in every):
            lines.append("")
            lines.append(TIMEOUT_TEXT)
        snapshot_rounds = {(id(m), f["round"]) for m in (fast, full) for f in m.get("failures", [])
                           if f["step"] == "snapshot"}
        if any(f["step"] == "restore" and (id(m), f["round"]) in snapshot_rounds
               for m in (fast, full) for f in m.get("failures", [])):
            lines.append("")
            lines.append("The restore right after a failed snapshot failed too, most likely because the snapshot's "
                         "`DROP DATABASE` of that spare copy was still running in Postgres (muster had given up on "
                         "it, Postgres had not): the restore found the spare still listed, and it was gone by the "
                         "time the restore renamed it. A command that gives up on a statement leaves the statement "
                         "running for the next command to race with.")
        lines.append("")
    lines.append(f"- **The sequence** (issue 24's report): a fresh project folder, one Postgres service (`databases: "
                 f"[app]`, `snapshot: {{ after: migrate }}`, `durability: fast` or `full`, nothing else differs) and a "
                 f"`migrate` task running the restore part's migration ({d['tables']} tables, "
                 f"{_thousands(d['rows'])} rows, "
                 "indexes and foreign keys; `psql -f`). `up -d` returns with the snapshot taken; then `muster db "
                 f"snapshot db`, `muster db restore db`, `muster db clone db --count {d['clones']}` and `muster "
                 "down`, each timed from launching the command to its exit, one right after the other as a user "
                 "types them. The shutdown checkpoint's figures are read from the Postgres log the down wrote.")
    lines.append(f"- **Restores back to back**: the same project brought up again (the migration begins with a psql "
                 "`\\if` that finds its tables and stops, as a migration tool does on a migrated database), then "
                 f"{d['restores_per_round']} `muster db restore db` in a row, each timed; each one waits for the "
                 "spare copy the previous one started, so this is the cost of making that copy "
                 "(`CREATE DATABASE … STRATEGY WAL_LOG`, its commit synced with `fsync=on`) and of dropping the "
                 "old one. The ratio column compares each round's median (and its 90th percentile). Checked "
                 "after each round's restores: `app` holds "
                 + ", ".join(sorted({_thousands(c["rows"]) for c in d.get("checks", [])}) or ["?"])
                 + f" rows, and the {d['clones']} clones exist.")
    lines.append("- **Postgres-only**: one `engine: postgres` service. Cold: a fresh project folder with a spare "
                 "cluster of the warm template cache ready (as users have it after their first start); warm: one "
                 "folder per mode whose data stays between runs.")
    lines.append("- Both modes run the same binary in the same round; the order flips every round. Before each "
                 "mode's turn the harness calls `sync()` (untimed), so what one mode left in the page cache is "
                 "not written on the other's time. Every `down` is checked: no process of the stack left, the "
                 "Postgres processes included (found by their data folder), and no port listening. Nothing is "
                 "deleted while the part runs (see the cold start section); the projects go with `muster down "
                 "--volumes` when it ends.")
    lines.append("")
    lines.append("**What each choice risks.** With `durability: fast` (the default: `fsync=off`, "
                 "`full_page_writes=off`, `synchronous_commit=on`) every commit is written to the kernel before "
                 "Postgres acknowledges it, so a crash or a SIGKILL of Postgres or of muster loses and corrupts "
                 "nothing; only an operating-system crash or a power loss can lose recent commits or corrupt the "
                 "cluster, which a development or test database can be made again from its migrations. "
                 "`durability: full` (Postgres's own defaults) survives those too, at the cost above. Redis runs "
                 "with no persistence by default (no RDB snapshots, no AOF): its data lives in memory and is gone "
                 "after any restart, unless `settings:` ask for persistence.")
    lines.extend(partreport.problems(d))
    for missing in d.get("spares_missing") or []:
        lines.append(f"- spare not ready in time: {missing}")
    lines.append("")
    return "\n".join(lines)


TIMEOUT_TEXT = ("A `timed out after 5s` is muster's, not Postgres's: `muster db snapshot`, `restore` and `clone` "
                "talk to Postgres over an admin connection whose every read waits at most 5 s (the `connect_timeout=5` "
                "of DatabaseDesk, which PostgresConnection also uses as the limit of each exchange), and a `DROP "
                "DATABASE` there (the old snapshot's, a spare's) waits for the checkpoint it forces, which with "
                "`fsync=on` syncs every file written since the last one: about 5 s here after the migration and its "
                "copies. Postgres finishes the statement; muster has already given up and says the command failed. "
                "With `durability: fast` that checkpoint syncs nothing.")


def down_paragraph(fast, full):
    sync_full = _checkpoint(full, "sync_s")
    files_full = _checkpoint(full, "sync_files")
    buffers_full, buffers_fast = _checkpoint(full, "buffers"), _checkpoint(fast, "buffers")
    downs = len(full["checkpoint"])
    immediate = sum(1 for c in full["checkpoint"] if c.get("immediate"))
    recovered = [r for r in full.get("recovered", []) if r["crash_recovery"]]
    text = ("**Where `down`'s time goes with `full`.** Postgres's fast shutdown (SIGINT, what muster sends first) "
            "ends with a checkpoint: every dirty buffer is written to the kernel and then, with `fsync=on`, every "
            "file written since the last checkpoint is synced.")
    if sync_full and buffers_fast:
        text += (f" Where that checkpoint completed with full, it wrote {statistics.median(buffers_full):.0f} buffers "
                 f"of 8 kB ({statistics.median(buffers_fast):.0f} with fast, medians) and synced "
                 f"{statistics.median(files_full):.0f} files in {ms(statistics.median(sync_full))} (Postgres's "
                 "`checkpoint complete` line).")
    if immediate:
        up_again = totals(full["up_again"])
        text += (f" In {immediate} of {downs} downs with full it did not complete within `stop_timeout` (10 s): muster "
                 "went on to an immediate shutdown (SIGQUIT), which ends Postgres at once and safely, so `down` took "
                 "10 s and the next start ran crash recovery"
                 + (f" ({len(recovered)} of {len(full.get('recovered', []))} starts again did; `up -d` again took "
                    f"{ms(statistics.median(up_again))} with full against {ms(_median(fast['up_again']))} with fast, "
                    "medians)" if full.get("recovered") and up_again else "")
                 + ".")
    text += (" With `fsync=off` there is nothing to sync, and the kernel writes the pages out in its own time, after "
             "`down` has returned.")
    return [text, ""]
