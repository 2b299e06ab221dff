"""The `tests` part (issue 14): what test attribution costs.

- The pytest plugin's added time per test: a suite of N trivial tests run under
  `muster run` (so MUSTER_TESTS_FILE, MUSTER_EVENTS and the control socket are
  real, against a running stack) with the plugin active, and the same run with
  it switched off (`-p no:muster`), alternating. Per round: (active - off) / N,
  in wall time and in CPU time (user + system of muster run and pytest).
- Reading 100 000 tests from a report: `muster run --tests big.json -- true`
  against `muster run -- true`, for a generated Playwright JSON report and a
  go test -json stream, alternating. The reading time is the difference.
"""

import datetime
import json
import os
import resource
import shutil
import subprocess
import time

import procs
from musterstack import Project
from stackbench import BenchError

STACK = """# written by scripts/bench: a quiet stack for the tests part
name: tests
services:
  idle:
    command: "echo ready; exec sleep 1000"
    ready: { log: ready }
"""


def write_suite(directory, count):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "test_trivial.py"), "w") as handle:
        handle.write("".join(f"def test_{i}():\n    pass\n\n\n" for i in range(count)))


def _stamp(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_playwright(path, count, files=100):
    """A Playwright JSON report: `files` spec files of count/files tests, each with
    one result (startTime, duration, workerIndex, status)."""
    start = time.time() - 3600
    per = count // files
    suites = []
    n = 0
    for f in range(files):
        specs = []
        for t in range(per):
            specs.append({"title": f"does thing {t}", "file": f"spec{f:03d}.spec.ts", "line": t + 1, "column": 5,
                          "tests": [{"projectName": "chromium", "status": "expected", "results": [{
                              "workerIndex": n % 4, "status": "passed" if n % 97 else "failed", "duration": 12.5,
                              "startTime": _stamp(start + n * 0.02), "retry": 0, "errors": []}]}]})
            n += 1
        suites.append({"title": f"spec{f:03d}.spec.ts", "file": f"spec{f:03d}.spec.ts", "specs": [],
                       "suites": [{"title": f"feature {f}", "file": f"spec{f:03d}.spec.ts", "specs": specs}]})
    with open(path, "w") as handle:
        json.dump({"config": {"version": "1.48.0"}, "suites": suites, "errors": [], "stats": {"expected": n}}, handle)
    return n


def write_go_test_json(path, count, packages=50):
    """go test -json: run, an output line and pass/fail for each test."""
    start = time.time() - 3600
    per = count // packages
    n = 0
    with open(path, "w") as handle:
        for p in range(packages):
            package = f"example.com/app/pkg{p:02d}"
            for t in range(per):
                at = start + n * 0.02
                name = f"TestThing{t}"
                handle.write(json.dumps({"Time": _stamp(at), "Action": "run", "Package": package, "Test": name}) + "\n")
                handle.write(json.dumps({"Time": _stamp(at + 0.001), "Action": "output", "Package": package,
                                         "Test": name, "Output": f"=== RUN   {name}\n"}) + "\n")
                action = "pass" if n % 97 else "fail"
                handle.write(json.dumps({"Time": _stamp(at + 0.012), "Action": action, "Package": package,
                                         "Test": name, "Elapsed": 0.01}) + "\n")
                n += 1
            handle.write(json.dumps({"Time": _stamp(start + n * 0.02), "Action": "pass", "Package": package,
                                     "Elapsed": 1.0}) + "\n")
    return n


def _timed_run(project, args, timeout=600):
    """(wall seconds, CPU seconds of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    rc, _, elapsed = project.run("run", *args, timeout=timeout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return rc, elapsed, cpu


def tests(binary, env, root, runs, quick, log):
    python = os.environ["MUSTER_PYTHON"]
    check = subprocess.run([python, "-c", "import pytest, pytest_muster"], capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        raise BenchError("pytest and pytest-muster are not in the venv (scripts/install-deps installs them): "
                         + check.stderr.strip()[-200:])
    directory = os.path.join(root, "tests")
    os.makedirs(directory, exist_ok=True)
    os.chmod(directory, 0o755)
    count = 1000 if quick else 3000
    reports = 100_000
    suite = os.path.join(directory, "suite")
    write_suite(suite, count)
    playwright = os.path.join(directory, "big-playwright.json")
    gotest = os.path.join(directory, "big-go-test.json")
    out = {"suite_tests": count, "plugin": {"active": [], "off": [], "active_cpu": [], "off_cpu": []},
           "recorded_lines": [], "errors": []}
    out["playwright_tests"] = write_playwright(playwright, reports)
    out["go_tests"] = write_go_test_json(gotest, reports)
    out["playwright_bytes"] = os.path.getsize(playwright)
    out["go_bytes"] = os.path.getsize(gotest)
    reading = {"baseline": [], "playwright": [], "go": []}
    out["reading"] = reading
    project = Project(binary, os.path.join(directory, "project"), "tests", STACK, env)
    pytest_args = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", suite]
    try:
        project.up()
        tests_dir = os.path.join(project.state_dir)

        def plugin(active):
            def run(i):
                argv = ["--", *pytest_args] + ([] if active else ["-p", "no:muster"])
                rc, wall, cpu = _timed_run(project, argv)
                if rc != 0:
                    raise BenchError(f"muster run pytest ({'active' if active else 'off'}) exited {rc}: {project.tail()}")
                key = "active" if active else "off"
                out["plugin"][key].append({"total": wall, "round": i})
                out["plugin"][key + "_cpu"].append({"total": cpu, "round": i})
                return wall
            return run

        def read(kind):
            def run(i):
                args = ["--", "true"] if kind == "baseline" else ["--tests", playwright if kind == "playwright" else gotest,
                                                                  "--", "true"]
                rc, wall, _ = _timed_run(project, args)
                if rc != 0:
                    raise BenchError(f"muster run --tests ({kind}) exited {rc}: {project.tail()}")
                reading[kind].append({"total": wall, "round": i})
                return wall
            return run

        contenders = [("pytest, plugin active", plugin(True)), ("pytest, plugin off", plugin(False)),
                      ("muster run -- true", read("baseline")), ("--tests Playwright JSON", read("playwright")),
                      ("--tests go test -json", read("go"))]
        for name, fn in contenders:  # one unrecorded round
            fn(-1)
        for bucket in (out["plugin"], reading):
            for key in bucket:
                bucket[key].clear()
        for i in range(runs):
            log(f"tests round {i + 1}/{runs}")
            shift = i % len(contenders)
            for name, fn in contenders[shift:] + contenders[:shift]:
                try:
                    elapsed = fn(i)
                except Exception as error:
                    out["errors"].append(f"{name} run {i + 1}: {error}")
                    log(f"  {name}: FAILED: {error}")
                    continue
                log(f"  {name:26s} {elapsed * 1000:8.1f} ms")
        # The plugin did its work: the last active run's tests file has one line per test.
        rc, _, _ = project.run("run", "--report", os.path.join(directory, "report.json"), "--", *pytest_args,
                               timeout=600)
        with open(os.path.join(directory, "report.json")) as handle:
            report = json.load(handle)
        out["tests_in_report"] = len(report.get("tests") or [])
        del tests_dir
        # The plugin alone, as its author measures it (a stand-in control socket, CPU time, best of 3).
        script = os.path.join(os.environ["MUSTER_REPO"], "integrations", "pytest-muster", "bench_overhead.py")
        if os.path.exists(script):
            proc = procs.spawn([python, script, str(count), "1" if quick else "3"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env)
            try:
                text = procs.wait_exact(proc, 900, stdout_pipe=True)
            finally:
                proc.stdout.close()
                procs.forget_group(proc.pid)
            if proc.returncode == 0 and text:
                out["overhead_script"] = json.loads(text.decode().strip().splitlines()[-1])
            else:
                out["errors"].append(f"bench_overhead.py exited {proc.returncode}")
    finally:
        project.remove()
        shutil.rmtree(directory, ignore_errors=True)
    return out
