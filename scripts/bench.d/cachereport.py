"""The BENCHMARKS.md section of the cache part: a CI-like cold start with the
migrated cluster in the snapshot cache, against running the migration."""

import partreport
from figures import ms, stats, totals


def _cell(values):
    s = stats(values)
    if s is None:
        return "not measured"
    med, lo, hi, _ = s
    return f"{ms(med)} ({ms(lo)}–{ms(hi)})"


def _per_round(entries):
    return {e["round"]: e["total"] for e in entries}


def speedups(c):
    """Per round: the migration's cold start divided by the cache hit's."""
    a, b = _per_round(c["migrate"]), _per_round(c["hit"])
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def rows(c, table, judge):
    table.add("Cold start, migration run (no cache)", totals(c["migrate"]), ms)
    table.add("Cold start, snapshot cache hit", totals(c["hit"]), ms)
    s = stats(speedups(c))
    if s is not None:
        table.add("migration ÷ cache hit, per round", speedups(c), lambda v: f"{v:.1f}×", "≥ 10×",
                  judge("cache hit ≥ 10× faster than the migration", s[0] >= 10))


def section(results):
    c = results["cache"]
    lines = [partreport.HEADINGS["cache"], ""]
    lines.append(
        "A CI-like cold start: a fresh project folder, `muster up -d` of a Postgres and a migration task of "
        "50 tables and 100 000 rows (the restore part's script, run by psql) with "
        "`snapshot: { after: migrate, key: [migrations/*.sql] }`. *migrate*: no cache, the migration runs and the "
        "snapshot (and its pool of 2 ready copies) is taken. *hit*: `MUSTER_CACHE_DIR` holds the migrated cluster "
        "for the key (made once before the rounds): the cluster is copied from it, the task is skipped "
        "(`skipped: snapshot for key … is current`). *miss*: an empty cache folder: the migration runs and the "
        "cluster is copied into the cache with `pg_basebackup` (what the first CI job pays). Every run checks the "
        "rows and whether the task ran. The template cache is warm in all three, as on any machine that ran "
        "muster before.")
    lines.append("")
    lines.append("| Contender | `up -d`, median (min–max) | Runs |")
    lines.append("|---|---|---|")
    for key, label in (("migrate", "migration runs (no cache)"), ("hit", "snapshot cache hit"),
                       ("miss", "cache miss: migration + cluster copied into the cache")):
        lines.append(f"| {label} | {_cell(totals(c[key]))} | {len(c[key])} |")
    s = stats(speedups(c))
    if s is not None:
        med, lo, hi, _ = s
        verdict = "met" if med >= 10 else "**missed**"
        lines.append("")
        lines.append(f"Migration ÷ cache hit, per round: median **{med:.1f}×** ({lo:.1f}–{hi:.1f}×); goal ≥ 10×: {verdict}.")
    if c.get("cache_bytes"):
        if c.get("cache_copied_bytes") is not None:
            lines.append(f"The cache entry (what a hit needs: the cluster's own databases, the migrated database and its "
                         f"snapshot, one WAL file; no ready copies, made again in the background after the stack is "
                         f"ready) takes {c['cache_bytes'] / 1e6:.0f} MB on disk, of which a hit copies "
                         f"{c['cache_copied_bytes'] / 1e6:.0f} MB (template0 and the snapshot are hard links); priming it "
                         f"took {ms(c['priming'])}.")
        else:
            lines.append(f"The cache entry (the whole cluster: the database, its snapshot and 2 ready copies) takes "
                         f"{c['cache_bytes'] / 1e6:.0f} MB; priming it took {ms(c['priming'])}.")
    before = c.get("before")
    if before:
        lines.append("")
        lines.append(f"Before (the entry was the whole cluster with its pool): {before['binary']}, measured "
                     f"{before['started']} in the same way, load average {before['load'].get('before', '?')} when it "
                     f"began, {before['load'].get('after', '?')} when it ended:")
        lines.append("")
        lines.append("| Contender | `up -d`, median (min–max) | Runs |")
        lines.append("|---|---|---|")
        for key, label in (("migrate", "migration runs (no cache)"), ("hit", "snapshot cache hit"),
                           ("miss", "cache miss: migration + cluster copied into the cache")):
            lines.append(f"| {label} | {_cell(totals(before[key]))} | {len(before[key])} |")
        b = stats(speedups(before))
        if b is not None:
            lines.append("")
            lines.append(f"Migration ÷ cache hit, per round: median {b[0]:.1f}× ({b[1]:.1f}–{b[2]:.1f}×); the entry took "
                         f"{before['cache_bytes'] / 1e6:.0f} MB.")
    lines.append("")
    lines.append(partreport.when(results, "cache"))
    problems = partreport.problems(c)
    if problems:
        lines.append("")
        lines.extend(problems)
    return "\n".join(lines) + "\n"

