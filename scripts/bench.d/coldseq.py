"""Cold starts in the sequences users run (issue 28 item 5), deletions included: a
one-Postgres stack's `up -d`, against its warm `up -d`, in

- five new projects in a row (each brought down, its data kept, as a user leaves it),
- `down --volumes && up -d` ten times in one project,
- a new project right after another project's `up -d` and `down --volumes`.

Unlike the rest of the cold part, these runs delete clusters between starts (that is
what the sequences do): on this machine's file system (ext4 without a journal) a
file made beside inodes freed in the last minute costs more (the inode search walks
past them), and that cost is charged where it falls."""

import os
import shutil
import statistics

from musterstack import Project

PG_ONLY = """# written by scripts/bench: a Postgres-only stack
name: coldseq
services:
  db:
    engine: postgres
    port: auto
"""


def sequences(binary, env, base, log, warm_runs=3):
    """The warm reference is measured between the cold starts too (one warm `up -d` of
    another project after each cold one, never between a `down --volumes` and the `up -d`
    it is followed by), so a busy moment of the shared machine weighs on both alike."""
    root = os.path.join(base, "sequences")
    os.makedirs(root, exist_ok=True)
    os.chmod(root, 0o755)
    extra = {"MUSTER_TEMPLATE_DIR": os.path.join(root, "templates")}
    out = {"warm": [], "new_projects": [], "down_volumes_up": [], "after_other_down_volumes": [], "errors": []}
    projects = []
    count = [0]

    def fresh():
        count[0] += 1
        project = Project(binary, os.path.join(root, f"p{count[0]}"), "coldseq", PG_ONLY, env, extra)
        projects.append(project)
        return project

    try:
        fresh().up()  # the template made once (not counted), as on any machine that ran muster before
        warm = fresh()
        warm.up()
        warm.down(volumes=False)

        def warm_once():
            out["warm"].append(warm.up())
            warm.down(volumes=False)

        for _ in range(warm_runs):
            warm_once()
        for _ in range(5):
            project = fresh()
            out["new_projects"].append(project.up())
            project.down(volumes=False)
            warm_once()
        project = fresh()
        project.up()
        for _ in range(10):
            project.down(volumes=True)
            out["down_volumes_up"].append(project.up())
            warm_once()
        project.down(volumes=True)
        for _ in range(3):
            other = fresh()
            other.up()
            other.down(volumes=True)
            project = fresh()
            out["after_other_down_volumes"].append(project.up())
            warm_once()
            project.down(volumes=True)
    except Exception as error:  # noqa: BLE001  (reported with the figures)
        out["errors"].append(str(error))
    finally:
        for project in projects:
            project.remove()
        shutil.rmtree(root, ignore_errors=True)
    warm_median = statistics.median(out["warm"]) if out["warm"] else None
    for key in ("new_projects", "down_volumes_up", "after_other_down_volumes"):
        values = out[key]
        if values and warm_median:
            log(f"  {key}: median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms "
                f"({statistics.median(values) / warm_median:.2f}× warm {warm_median * 1000:.0f} ms)")
    return out


def rows(c, table, judge, ms, ratio):
    s = c.get("sequences")
    if not s or not s.get("warm"):
        return
    warm = statistics.median(s["warm"])
    table.add("sequences: warm `up -d` (the reference, between the cold starts)", s["warm"], ms)
    table.add("  warm ÷ its own median (each start: the machine's noise)", [v / warm for v in s["warm"]], ratio)
    for key, label in (("new_projects", "five new projects in a row"),
                       ("down_volumes_up", "`down --volumes && up -d` ten times"),
                       ("after_other_down_volumes", "a new project right after another's `down --volumes`")):
        values = s.get(key) or []
        table.add(f"sequences: {label}, cold `up -d`", values, ms)
        worst = max(values) / warm if values else None
        table.add(f"  ÷ warm (each start)", [v / warm for v in values], ratio, "≤ 1.3×",
                  judge(f"cold start within 1.3× of warm: {label}", None if worst is None else worst <= 1.3))
