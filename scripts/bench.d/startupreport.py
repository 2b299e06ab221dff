"""The start-up and teardown section of BENCHMARKS.md: the four contenders on the
bench stack, where muster's time goes, and how each contender was run."""

from figures import ms, stats, totals


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
