"""The cold start section of BENCHMARKS.md: a cluster copied from the template
instead of initdb, and the seeded databases."""

import statistics

import coldseq
import partreport
from figures import Table, ms, paired_ratios, ratio, totals


def cold_rows(c, table, judge):
    pg, seed = c["pg"], c["seed"]
    warm_ratio = paired_ratios(pg["template"], pg["warm"])
    wr = partreport.median(warm_ratio)
    table.add("`muster up -d` cold, Postgres-only, a spare cluster ready (the default)", totals(pg["template"]), ms)
    table.add("`muster up -d` cold, no spare (MUSTER_TEMPLATE_SPARES=0: the template is copied)",
              totals(pg.get("no_spares", [])), ms)
    table.add("`muster up -d` warm (data folder exists)", totals(pg["warm"]), ms)
    table.add("cold ÷ warm (muster, per round)", warm_ratio, ratio, "≤ 1.3×",
              judge("cold up -d ≤ 1.3× warm", None if wr is None else wr <= 1.3))
    table.add("cold ÷ warm with no spare (per round)", paired_ratios(pg.get("no_spares", []), pg["warm"]), ratio)
    table.add("`muster up -d` cold with MUSTER_NO_TEMPLATE=1 (initdb)", totals(pg["initdb"]), ms)
    table.add("Ideal cold (harness: initdb, then the server, 2 ms polling)", totals(pg["ideal_cold"]), ms)
    table.add("Ideal warm", totals(pg["ideal_warm"]), ms)
    table.add("muster cold (template) ÷ ideal cold (initdb) — below 1: see the text",
              paired_ratios(pg["template"], pg["ideal_cold"]), ratio)
    table.add("muster cold (initdb) ÷ ideal cold (initdb)", paired_ratios(pg["initdb"], pg["ideal_cold"]), ratio)
    if c.get("first_making") is not None:
        table.add("The template's first making (cache empty): that cold `up -d`", [c["first_making"]], ms)
    s15 = partreport.median(totals(seed["template"]))
    table.add("Seed layout (13 Postgres, Redis, Kafka) cold, 13 spares ready (the default)", totals(seed["template"]),
              ms, "< 1.5 s", judge("15-service seed layout cold < 1.5 s", None if s15 is None else s15 < 1.5))
    table.add("Seed layout cold, no spare (13 copies of the template)", totals(seed.get("no_spares", [])), ms)
    table.add("Seed layout cold with MUSTER_NO_TEMPLATE=1 (13 initdb runs)", totals(seed["initdb"]), ms)
    table.add("Seed layout: spares ÷ initdb (per round)", paired_ratios(seed["template"], seed["initdb"]), ratio)
    coldseq.rows(c, table, judge, ms, ratio)


def cold_section(results):
    c = results["cold"]
    lines = [partreport.HEADINGS["cold"], "", partreport.when(results, "cold"), ""]
    table = Table()
    cold_rows(c, table, lambda _name, ok: partreport.verdict_or_info(ok))
    lines.append(table.text())
    lines.append("")
    lines.append("- **Postgres-only stack**: one service, `engine: postgres`, `port: auto`. A cold run is a fresh "
                 "project folder (a new temp folder with its `muster.yaml`), so muster makes the cluster: with the "
                 "template cache warm it takes a spare cluster (a copy of the template made ahead of time, renamed "
                 "into place and checked against the template's manifest), or copies the template when there is "
                 "no spare; with `MUSTER_NO_TEMPLATE=1` it runs `initdb` as before. Warm: one project folder whose "
                 "data stays between runs. Timed from launching `muster up -d` to its exit (every service ready).")
    lines.append("- **Spares**: a supervisor copies spares once its stack is up, at the lowest CPU priority, as "
                 "many as it used clusters of that template. A test suite keeps the stack up long enough; here the "
                 "harness waits, not timed, until the stack has copied the spare the next cold run of its kind "
                 "takes (`spares` runs), so each such run finds one. The no-spare rows (`MUSTER_TEMPLATE_SPARES=0`) "
                 "are what a cold start costs when the cache has none yet, or lies on another file system than the "
                 "project (a rename cannot cross file systems, so muster copies there).")
    lines.append("- **Nothing is deleted while the part runs**: every project is brought down with `muster down` "
                 "and the folders go when the part ends. This machine's ext4 has no journal, and such an ext4 does "
                 "not reuse an inode freed in the last minute: each new file's inode search walks past them in its "
                 "folder's block group, so files made beside a deleted cluster cost 0.2–0.4 ms each (muster now "
                 "makes clusters in groups of their own; see the text below). The sequences below include deletions.")
    lines.append("- The template caches are folders of the run (`MUSTER_TEMPLATE_DIR`), empty when the part "
                 "begins (one for the Postgres-only stack, one for the seed layout, so neither takes the other's "
                 "spares): the first cold `up -d` makes the template (its figure above, one run).")
    lines.append("- **The ideal still pays for `initdb`, muster does not**: the ideal is the harness running "
                 "`initdb` (muster's flags) and then the server, polling it every 2 ms, the limit for a tool that "
                 "runs `initdb`. muster copies a cluster instead, so its cold start can beat that ideal and "
                 "the cold ratio against it may drop below 1. The fair comparisons are cold ÷ warm (what the "
                 "template leaves of the cold penalty) and muster with `MUSTER_NO_TEMPLATE=1` ÷ the ideal.")
    lines.append("- **Seed layout**: the seed project's 15 services, 13 Postgres servers (`pg01` … `pg13`), "
                 "Redis and Kafka (Tansu), all `port: auto`, fresh folder each run, warm template cache; with 13 "
                 "spares ready, with none, and with `MUSTER_NO_TEMPLATE=1`, where 13 `initdb` runs share the 2 cores.")
    lines.extend(seed_observations(seed_runs=c["seed"]))
    if c.get("sequences"):
        lines.append("- **Sequences, deletions included** (rows `sequences:`, after the rounds above, in a template "
                     "cache of their own made once first): five new projects in a row (each brought down, its data "
                     "kept), then one project's `down --volumes && up -d` ten times, then three times a new project "
                     "right after another project's `up -d` and `down --volumes`. Each cold `up -d` is judged "
                     "against the median warm `up -d` of the same stack: three warm runs before the sequences and "
                     "one after each cold start (another project's, never between a `down --volumes` and its "
                     "`up -d`), so a busy moment of the machine weighs on both; the target holds when the slowest "
                     "start of a sequence is within 1.3×. The warm starts' own slowest ÷ median is shown as the "
                     "machine's noise. Errors: "
                     + ("; ".join(c["sequences"].get("errors") or []) or "none") + ".")
    for missing in c.get("spares_missing") or []:
        lines.append(f"- spares not ready in time: {missing}")
    lines.extend(partreport.problems(c))
    lines.append("")
    return "\n".join(lines)


def seed_observations(seed_runs):
    """Where the seed layout's time goes, from `muster ps --json` (ready_in_s: spawn to ready)."""
    lines = []
    for key, label in (("template", "with spares"), ("no_spares", "copied from the template"),
                       ("initdb", "with initdb")):
        runs = [e.get("ready_in_s") for e in seed_runs.get(key, []) if e.get("ready_in_s")]
        if not runs:
            continue

        def med(fn):
            values = [fn(r) for r in runs]
            values = [v for v in values if v is not None]
            return statistics.median(values) if values else None
        cache = med(lambda r: r.get("cache"))
        bus = med(lambda r: r.get("bus"))
        pgs = lambda r: sorted(v for k, v in r.items() if k.startswith("pg") and v is not None)
        first_pg = med(lambda r: (pgs(r) or [None])[0])
        last_pg = med(lambda r: (pgs(r) or [None])[-1])
        lines.append(f"- Seed layout {label}, from each service's spawn to its being found ready (medians of the "
                     f"runs, `ready_in_s` of `muster ps --json`): Redis {ms(cache)}, Tansu {ms(bus)}, the first "
                     f"Postgres {ms(first_pg)}, the last {ms(last_pg)}.")
    return lines
