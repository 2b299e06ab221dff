"""What the self-contained sections of BENCHMARKS.md share (the parts a run of only
them merges into an existing report, see dbreport): their headings, when and
under what load each part was measured, what went wrong, medians and per-round
differences."""

import suitereport
from figures import INFO, MET, MISSED, stats

HEADINGS = {
    "cold": "## Cold start: a cluster copied from the template instead of initdb",
    "restore": "## Restoring a test database: 50 tables, 100 000 rows",
    "tests": "## Test attribution: the pytest plugin's cost and reading big reports",
    "durability": "## Durability: fast (default) vs full",
    "watch": "## The development loop: edit to ready, and watching 100 000 files",
    "suite": suitereport.HEADING,
    "cache": "## CI cold start: the migrated cluster from the snapshot cache",
}


def verdict_or_info(ok):
    return INFO if ok is None else (MET if ok else MISSED)


def median(values):
    s = stats(values)
    return s[0] if s else None


def diffs(a, b):
    """Per round: a's run minus b's run of the same round."""
    x = {e["round"]: e["total"] for e in a}
    y = {e["round"]: e["total"] for e in b}
    return [x[r] - y[r] for r in sorted(x) if r in y]


def when(results, part):
    load = results.get(part, {}).get("load") or {}
    machine = results["machine"]
    quick = " --quick" if results.get("quick") else ""
    busy = load.get("busy_percent")
    text = (f"Measured {results['started']} by `scripts/bench{quick} --only {','.join(results['parts'])}` "
            f"({results.get(part, {}).get('rounds', results['runs'])} alternating rounds; the order of the contenders "
            "rotates each round), muster "
            f"{machine['muster_rev']}, release build, on {machine['cpu']}, {machine['cores']} cores. Load average "
            f"(1, 5, 15 min) when this part began: {load.get('before', '?')}; when it ended: {load.get('after', '?')}")
    if busy is not None:
        text += f"; the CPUs were {busy:.0f} % busy on average during the part (its own work included)"
    text += "."
    try:
        first = float(str(load.get("before", "0")).split()[0])
    except ValueError:
        first = 0
    if first >= machine.get("cores", 2) or (busy or 0) >= 80:
        text += (" **The machine was busy** (other work shares its 2 cores), so these "
                 "figures are slower and more spread than on a quiet machine; the ratios within a round hold "
                 "better than the absolute times.")
    return text


def problems(part):
    lines = []
    for error in part.get("errors") or []:
        lines.append(f"- failed: {error}")
    for leak in part.get("leaks") or []:
        lines.append(f"- left behind: {leak}")
    return lines
