"""BENCHMARKS.md section of the `suite` part (suitebench.py)."""

import statistics

from figures import INFO, MET, MISSED, Table

HEADING = "## A suite that restores before every test: 200 tests at 4 workers"
SHORT = "Restore before every test (issue 28)"
LABELS = {"none": "no restore (the floor)", "muster": "`muster db restore` (control API)",
          "truncate": "TRUNCATE of all 50 tables", "template": "DROP + CREATE DATABASE … TEMPLATE"}


def _pct(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _figures(s, contender):
    runs = s["results"][contender]
    walls = [r["wall_s"] for r in runs]
    before = [v for r in runs for v in r["before_ms"]]
    return statistics.median(walls) if walls else None, walls, _pct(before, 50), _pct(before, 99), runs


def rows(s, table, judge):
    floors = {r["round"]: r["wall_s"] for r in s["results"]["none"]}
    seconds = lambda v: f"{v:.2f} s"  # noqa: E731
    millis = lambda v: f"{v:.1f} ms"  # noqa: E731
    times = lambda v: f"{v:.2f}×"  # noqa: E731
    for contender in ("none", "muster", "truncate", "template"):
        runs = s["results"][contender]
        table.add(f"{LABELS[contender]}: suite wall time", [r["wall_s"] for r in runs], seconds)
        if contender == "none":
            continue
        ratios = [r["wall_s"] / floors[r["round"]] for r in runs if r["round"] in floors]
        p50s = [_pct(r["before_ms"], 50) for r in runs if r["before_ms"]]
        p99s = [_pct(r["before_ms"], 99) for r in runs if r["before_ms"]]
        if contender == "muster":
            med = statistics.median(ratios) if ratios else None
            table.add("  ÷ no restore (per round)", ratios, times, "≤ 1.2×",
                      judge("suite with a restore before every test within 1.2× of none", None if med is None else med <= 1.2))
            p50 = statistics.median(p50s) if p50s else None
            table.add("  restore p50 (per round)", p50s, millis, "≤ 20 ms",
                      judge("restore p50 ≤ 20 ms back to back", None if p50 is None else p50 <= 20))
        else:
            table.add("  ÷ no restore (per round)", ratios, times)
            table.add("  before each test, p50 (per round)", p50s, millis)
        table.add("  before each test, p99 (per round)", p99s, millis)


def section(results, when):
    s = results["suite"]
    lines = [HEADING, "", when, ""]
    if "/debug/" in str(s.get("binary", "")):
        lines += ["(This part was measured with a debug build of muster, not a release build.)", ""]
    table = Table()
    rows(s, table, lambda _name, ok: INFO if ok is None else (MET if ok else MISSED))
    lines.append(table.text())
    lines.append("")
    lines.append("| contender | suite wall time per round | × no restore (median) | before each test p50 / p99 | notes |")
    lines.append("|---|---|---|---|---|")
    floor = _figures(s, "none")[0]
    for contender in ("none", "muster", "truncate", "template"):
        wall, walls, p50, p99, runs = _figures(s, contender)
        if wall is None or p50 is None:
            lines.append(f"| {LABELS[contender]} | not measured | | | |")
            continue
        notes = []
        if contender == "muster":
            inplace = sum(r.get("reset_in_place", 0) for r in runs)
            empty = sum(r.get("pool_empty", 0) for r in runs)
            total = sum(len(r["before_ms"]) for r in runs)
            notes.append(f"{inplace}/{total} reset in place, {empty} waited for a copy")
        errors = sum(len(r.get("errors", [])) for r in runs)
        if errors:
            notes.append(f"{errors} failed tests")
        lines.append(f"| {LABELS[contender]} | {' / '.join(f'{w:.2f} s' for w in walls)} | {wall / floor:.2f}× | "
                     f"{p50:.1f} / {p99:.1f} ms | {'; '.join(notes)} |")
    lines.append("")
    ok = all(v == s["expected"] for v in s["checks"].values())
    lines.append(f"- {s['tests']} tests over {s['workers']} workers (a thread each, each with its own database: "
                 f"`app_gw0`…`app_gw{s['workers'] - 1}`, muster's per-worker clones, for muster; copies of the migrated "
                 "database for the others), each test connecting to its database, inserting 5 rows into `t05`, "
                 "updating 10 rows of `t07` and deleting one of `t09`, then working until "
                 f"{s['work_ms']} ms have passed since it began. The floor is {s['tests']} × {s['work_ms']} ms / "
                 f"{s['workers']} = {s['tests'] * s['work_ms'] / s['workers'] / 1000:.1f} s plus connecting.")
    lines.append("- Before each test: time on the client, from the request to its answer (for muster the control "
                 "API over its unix socket, as the pytest plugin calls it).")
    lines.append("- muster resets in place when Postgres' counters say only rows of ordinary tables changed since "
                 "the database last equalled its snapshot: in a table with a primary key it deletes the rows "
                 "written since (their `xmin` at or past the transaction id it noted then) and copies back the "
                 "snapshot's rows that are missing, from a copy of the snapshot no one writes to; a table without "
                 "one is reloaded whole (with the tables whose foreign keys reach it); sequences that moved are "
                 "set back; anything else (a schema change, a restarted server) swaps in a whole copy from the "
                 "pool. Four exchanges with Postgres per reset, on connections kept open between restores; "
                 "muster's session keeps `session_replication_role = replica` and has the statements it runs "
                 "every time prepared; a table keyed by one integer column that lost one row has that row named "
                 "by the count and XOR of the keys left, without reading them.")
    lines.append(f"- Checked after the run: every worker's database, restored once more, "
                 f"{'equals' if ok else '**does not equal**'} the snapshot (rows of `t05`, `t09`, the sum of `t07`'s "
                 f"amounts: {s['expected']}; each worker: {s['checks']}).")
    lines.append("- For comparison, pgtestdb (Go) states about 10 ms per test database in its README: a "
                 "`CREATE DATABASE … TEMPLATE` of a template migrated once, measured on its authors' machine, not "
                 "here. The `template` row is that copy (with the `DROP` before it) on this 32 MB database and "
                 "this machine.")
    return "\n".join(lines)
