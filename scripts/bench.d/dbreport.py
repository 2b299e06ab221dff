"""BENCHMARKS.md sections of the cold, restore and tests parts. Each section is
self-contained (its own figures table, when and how it was measured, the load),
so a run of only these parts can be merged into an existing BENCHMARKS.md
without touching the other sections' figures (see merge). Each part's section and
its rows in the summary table are in a module of its own (coldreport, restorereport,
suitereport, testsreport, durabilityreport, watchreport, cachereport), on what
partreport gives them all."""

import cachereport
import coldreport
import durabilityreport
import partreport
import restorereport
import suitereport
import testsreport
import watchreport
from figures import Table
from partreport import HEADINGS, verdict_or_info

ORDER = ["cold", "restore", "suite", "tests", "durability", "watch", "cache"]
SHORT = {"cold": "Cold start (issue 15)", "restore": "Database restore (issue 15)",
         "tests": "Test attribution cost (issue 14)", "durability": "Durability fast vs full (issue 24)",
         "watch": "Development loop (issue 25)", "suite": suitereport.SHORT, "cache": "Snapshot cache cold start (issue 28)"}
SECTIONS = {"cold": coldreport.cold_section, "restore": restorereport.restore_section,
            "tests": testsreport.tests_section, "durability": durabilityreport.section,
            "watch": watchreport.watch_section, "cache": cachereport.section,
            "suite": lambda results: suitereport.section(results, partreport.when(results, "suite"))}
ROWS = {"cold": coldreport.cold_rows, "restore": restorereport.restore_rows, "tests": testsreport.tests_rows,
        "durability": durabilityreport.rows, "watch": watchreport.watch_rows, "suite": suitereport.rows,
        "cache": cachereport.rows}


def add_to_summary(results, summary, judge, sections):
    """For a full render: rows in the summary table and the sections."""
    for part in ORDER:
        if results.get(part):
            ROWS[part](results[part], summary, judge)
            sections.append(SECTIONS[part](results))


REPRODUCE = ("MUSTER_BIN=.build/release/muster scripts/bench --only cold,restore,suite,tests,durability   # only these "
             "sections, merged into BENCHMARKS.md")
PARTS_LINE = ("scripts/bench --only startup,detect        # parts: startup, detect, cost, logs, scale, cold, restore, "
              "suite, tests, durability")


# In a section, what follows this line was written by hand and is kept when the
# section's figures are measured again (`merge`).
HAND_WRITTEN = "<!-- written by hand below: kept when this section is measured again -->"


def merge(existing, results):
    """Replaces (or adds, before `## Method`) the sections of the parts in results,
    leaving every other section of an existing BENCHMARKS.md as it is."""
    text = existing
    for part in ORDER:
        if not results.get(part):
            continue
        new = SECTIONS[part](results).rstrip() + "\n\n"
        heading = HEADINGS[part]
        start = text.find(heading + "\n")
        if start >= 0:
            end = text.find("\n## ", start + len(heading))
            end = len(text) if end < 0 else end + 1
            # What was written by hand below the mark (before/after runs, traces) stays.
            mark = text.find(HAND_WRITTEN, start, end)
            kept = text[mark:end].rstrip() + "\n\n" if mark >= 0 else ""
            text = text[:start] + new + kept + text[end:]
        else:
            at = text.find("## Method\n")
            text = (text[:at] + new + text[at:]) if at >= 0 else text.rstrip() + "\n\n" + new
    # one line per part above "How to reproduce": its targets, met or missed
    for part in ORDER:
        if not results.get(part):
            continue
        verdicts = []
        ROWS[part](results[part], Table(), lambda name, ok: verdicts.append((name, ok)) or verdict_or_info(ok))
        judged = [(n, ok) for n, ok in verdicts if ok is not None]
        met = [n for n, ok in judged if ok]
        missed = [n for n, ok in judged if not ok]
        prefix = f"- {SHORT[part]}"
        line = (f"{prefix} (measured {results['started']}, load {results[part].get('load', {}).get('before', '?')}): "
                + (f"missed: {'; '.join(missed)}" if missed else ("every target met" if judged else "figures, no target"))
                + (f"; met: {'; '.join(met)}" if missed and met else "") + f". See “{HEADINGS[part][3:]}”.")
        lines = text.split("\n")
        found = [i for i, l in enumerate(lines) if l.startswith(prefix + " (measured")]
        if found:
            lines[found[0]] = line
        else:
            at = next((i for i, l in enumerate(lines) if l == "## How to reproduce"), len(lines))
            # a list of its own, after the blank line that ends the paragraph above
            if at >= 2 and not lines[at - 2].startswith("- ") :
                lines[at:at] = [line, ""]
            else:
                lines[at - 1:at - 1] = [line]
        text = "\n".join(lines)
    # the reproduce block names every part
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("scripts/bench --only startup,detect ") and line != PARTS_LINE:
            lines[i] = PARTS_LINE
        elif line.startswith("MUSTER_BIN=.build/release/muster scripts/bench --only cold,"):
            lines[i] = REPRODUCE
    if PARTS_LINE in lines and REPRODUCE not in lines:
        at = lines.index(PARTS_LINE) + 1
        lines[at:at] = [REPRODUCE]
    return "\n".join(lines).rstrip() + "\n"
