"""The database restore section of BENCHMARKS.md: a test database of 50 tables
and 100 000 rows, restored by muster against migrating and dumping it again."""

import partreport
from figures import Table, ms, paired_ratios, ratio, stats, totals


def restore_rows(r, table, judge):
    speedup = paired_ratios(r["migrate"], r["muster"])
    sp = partreport.median(speedup)
    table.add("(a) DROP + CREATE DATABASE + the migration script (psql -f)", totals(r["migrate"]), ms)
    table.add("    of which the migration script alone", totals(r["migrate_script"]), ms)
    table.add("(b) TRUNCATE of every table (one statement; leaves them empty)", totals(r["truncate"]), ms)
    table.add("(c) DROP + CREATE DATABASE + pg_restore of a pg_dump -Fc", totals(r["dump"]), ms)
    table.add("    of which pg_restore alone", totals(r["dump_restore_only"]), ms)
    table.add("(d) `muster db restore` (CLI), 1 s after the previous restore", totals(r["muster"]), ms)
    table.add("(d) `muster db restore` back to back (spare not ready yet)", totals(r["muster_back_to_back"]), ms)
    table.add("(e) DROP DATABASE + CREATE DATABASE … TEMPLATE, STRATEGY WAL_LOG", totals(r["copy_wal_log"]), ms)
    table.add("(e) the same, STRATEGY FILE_COPY", totals(r["copy_file_copy"]), ms)
    table.add("    DROP DATABASE alone (in both (e) runs: two per round)", totals(r["drop"]), ms)
    table.add("    CREATE DATABASE … TEMPLATE alone, WAL_LOG", totals(r["create_wal_log"]), ms)
    table.add("    CREATE DATABASE … TEMPLATE alone, FILE_COPY", totals(r["create_file_copy"]), ms)
    table.add("re-running the migration ÷ `muster db restore` (per round)", speedup, ratio, "≥ 10×",
              judge("muster db restore ≥ 10× faster than re-running the migration", None if sp is None else sp >= 10))
    table.add("re-running the migration ÷ `muster db restore` back to back", paired_ratios(r["migrate"], r["muster_back_to_back"]), ratio)
    table.add("re-running the migration ÷ drop-and-copy (WAL_LOG)", paired_ratios(r["migrate"], r["copy_wal_log"]), ratio)
    table.add("re-running the migration ÷ drop-and-copy (FILE_COPY)", paired_ratios(r["migrate"], r["copy_file_copy"]), ratio)
    table.add("pg_dump + pg_restore ÷ `muster db restore`", paired_ratios(r["dump"], r["muster"]), ratio)
    table.add("TRUNCATE ÷ `muster db restore`", paired_ratios(r["truncate"], r["muster"]), ratio)


def restore_section(results):
    r = results["restore"]
    lines = [partreport.HEADINGS["restore"], "", partreport.when(results, "restore"), ""]
    table = Table()
    restore_rows(r, table, lambda _name, ok: partreport.verdict_or_info(ok))
    lines.append(table.text())
    lines.append("")
    lines.append(f"The database: a plain SQL migration script ({r['migration_bytes']} bytes, run with `psql -v "
                 f"ON_ERROR_STOP=1 -f`) makes {r['tables']} tables, each with a bigserial primary key, a unique "
                 f"text column, two secondary indexes and (from the second table on) a foreign key to the first, "
                 f"and inserts {r['rows'] // r['tables']} rows into each: {r['rows']} rows in all "
                 f"({r.get('database_size', '?')} on disk, dump {r.get('dump_bytes', 0) / 1e6:.1f} MB), then "
                 "`ANALYZE`. The stack: one Postgres service (`databases: [app]`, `snapshot: { after: migrate }`) "
                 "and a `migrate` task running that script, so `muster up -d` returns with the snapshot taken. "
                 "All five ways run against that same server, each on a database of its own (the harness makes a "
                 "second copy with the same script, `bench_seed`, as the template for (b), (c) and (e)), "
                 "alternating, after one unrecorded warm-up round:")
    lines.append("")
    lines.append("- (a) what a suite does without snapshots: drop the database, create it empty, run the migration.")
    lines.append("- (b) `TRUNCATE t01, …, t50 RESTART IDENTITY CASCADE` over a fresh connection. It leaves the "
                 "tables empty, not in the migrated state: a suite whose migrations seed rows would have to insert "
                 "them again. The tables are filled again (untimed) before each run so it has rows to remove.")
    lines.append("- (c) `pg_dump -Fc` taken once; each run drops and creates the database and runs `pg_restore` "
                 "(which rebuilds every index and checks every foreign key).")
    lines.append("- (d) `muster db restore db` through the CLI, the wall time of the command, process start "
                 "included. Before each run a test's traces are left in the database (an updated row, an inserted "
                 "one) and 1 s has passed since the previous restore, as between two tests, so the spare is "
                 "ready. Back to back: two restores in a row, the second one timed: its spare is still being "
                 "made, so it waits for it.")
    lines.append("- (e) drop-and-copy alone: `DROP DATABASE` then `CREATE DATABASE … TEMPLATE bench_seed` with "
                 "each `STRATEGY`, what testcontainers-go's Restore does.")
    if "rows_after_restore" in r:
        lines.append("")
        lines.append(f"Checked at the end: the restored `app` holds {r['rows_after_restore']} rows, "
                     f"{r.get('changed_rows_after_restore')} of them changed by the tests' traces. "
                     + (f"The CLI said: `{r['muster_output'].splitlines()[-1]}`" if r.get("muster_output") else ""))
    lines.append("")
    lines.append("**The design.** Dropping a database and copying one from a template each cost tens to hundreds "
                 "of milliseconds (the rows above), and a restore that does both on the test's critical path can "
                 "only be a few times faster than a short migration. muster takes them off that path: after a "
                 "snapshot, and after every restore, it prepares a spare copy of the snapshot in the background. "
                 "A restore ends the sessions on the database, swaps the spare in with two `ALTER DATABASE … "
                 "RENAME` (milliseconds: only the catalog changes), and answers; dropping the old copy and making "
                 "the next spare happen afterwards, in the background, while the test runs. A restore that comes "
                 "before the spare is ready waits for it (the back-to-back row), so it is never wrong, only slower.")
    lines.append("")
    lines.append(strategy_text(r))
    lines.extend(partreport.problems(r))
    lines.append("")
    return "\n".join(lines)


def strategy_text(r):
    wal, fc = partreport.median(totals(r["create_wal_log"])), partreport.median(totals(r["create_file_copy"]))
    text = ("**The `CREATE DATABASE` strategy: muster uses `STRATEGY WAL_LOG`** (Postgres 15's default). ")
    if wal is not None and fc is not None:
        faster = "WAL_LOG" if wal < fc else "FILE_COPY"
        text += (f"Here, copying this {r.get('database_size', '?')} database took {ms(wal)} with WAL_LOG and "
                 f"{ms(fc)} with FILE_COPY (medians), so {faster} is the faster copy of a database this size. ")
    drop = stats(totals(r["drop"]))
    if drop and drop[1] > 0 and drop[2] > 5 * drop[1]:
        text += (f"The (e) totals are swayed by `DROP DATABASE`, which took from {ms(drop[1])} to {ms(drop[2])} "
                 "here (it removes the files and waits for the disk, which the machine's other work shared); the "
                 "CREATE rows compare the strategies. ")
    text += ("FILE_COPY copies the files but forces a checkpoint before and after the copy: every dirty page of "
             "the whole cluster is written out, so its cost grows with what other databases (the other xdist "
             "workers' clones, the app) have written, and it stalls their writes meanwhile. WAL_LOG copies the "
             "template block by block through the write-ahead log with no checkpoint: its cost depends only on "
             "the snapshot's size. Since the copy is made in the background as the spare, the restore itself "
             "does not wait for either; the strategy that does not disturb the other workers' databases wins, "
             "and on a database of this size it is not the slower one by much either way.")
    return text
