"""The plugin's work under ``muster run`` (registered only when MUSTER_TESTS_FILE is set).

In the process that runs a test (the only process without pytest-xdist, each
worker with it) it writes the test's line to MUSTER_TESTS_FILE and adds a
``muster`` section to a failing report naming the disruptions that overlapped the
test. The disruptions also travel on the report as ``muster_disruptions``, which
xdist serialises, so the process that prints (the controller under xdist) can
count them in its summary line.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from .disruptions import DisruptionSource, describe, rfc3339, summary_entry

SOURCE = "pytest"
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class _Run:
    """What one test did so far, from its setup, call and teardown reports."""

    __slots__ = ("start", "failed_call", "failed_other", "skipped", "annotated")

    def __init__(self, start: float):
        self.start = start
        self.failed_call = False
        self.failed_other = False
        self.skipped = False
        self.annotated = False

    @property
    def outcome(self) -> str:
        if self.failed_call:
            return "failed"
        if self.failed_other:
            return "error"
        if self.skipped:
            return "skipped"
        return "passed"


class MusterRecorder:
    def __init__(self, config, tests_file: str):
        self.config = config
        self.tests_file = tests_file
        self.strict = bool(config.getoption("muster_strict", False))
        self.worker = os.environ.get("PYTEST_XDIST_WORKER") or "main"
        self._fd: int | None = None
        self._write_failed = False
        self._source: DisruptionSource | None = None
        self._runs: dict[str, _Run] = {}
        self._warnings: list[str] = []
        # Filled from reports in the printing process (main or xdist controller).
        self.failing: set[str] = set()
        self.attributed: dict[str, set[str]] = {}
        self.warnings_seen: list[str] = []

    # -- the process that runs the tests -------------------------------------

    @property
    def source(self) -> DisruptionSource:
        if self._source is None:
            self._source = DisruptionSource(
                os.environ.get("MUSTER_CONTROL_SOCKET"),
                os.environ.get("MUSTER_EVENTS"),
                self._warnings.append,
            )
        return self._source

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        # tryfirst makes this the outermost wrapper: it sees the report after
        # the skipping plugin turned an expected failure into "skipped".
        report = yield
        try:
            self._observe(item, call, report)
        except Exception as error:  # never let the plugin break a test run
            self._warnings.append(f"muster: plugin error on {report.nodeid}: {error!r}")
        if self._warnings:
            report.muster_warnings = list(self._warnings)
            self._warnings.clear()
        return report

    def _observe(self, item, call, report):
        nodeid = report.nodeid
        run = self._runs.get(nodeid)
        if run is None or report.when == "setup":
            run = _Run(getattr(report, "start", 0) or call.start or time.time())
            self._runs[nodeid] = run
        if report.failed:
            if report.when == "call":
                run.failed_call = True
            else:
                run.failed_other = True
            if not run.annotated:
                run.annotated = True
                self._annotate(report, run.start, self._stop(report, call))
        elif report.skipped:
            run.skipped = True
        if report.when != "teardown":
            return
        end = self._stop(report, call)
        if self.strict and run.outcome == "passed":
            self._enforce_strict(report, run, end)
        del self._runs[nodeid]
        self._write(nodeid, run.outcome, run.start, end)

    @staticmethod
    def _stop(report, call) -> float:
        return getattr(report, "stop", 0) or call.stop or time.time()

    def _annotate(self, report, start: float, end: float):
        found = self.source.overlapping(start, end)
        if found:
            self._attach(report, found)

    @staticmethod
    def _attach(report, found: list[dict]):
        """The section pytest prints under the failure, and the disruptions on
        the report (xdist serialises both to the controller)."""
        report.sections.append(("muster", "\n".join(describe(d) for d in found)))
        report.muster_disruptions = [summary_entry(d) for d in found]

    def _enforce_strict(self, report, run: _Run, end: float):
        found = self.source.overlapping(run.start, end)
        if not found:
            return
        services = ", ".join(sorted({str(d.get("service")) for d in found}))
        report.outcome = "failed"
        report.longrepr = (
            f"--muster-strict: {report.nodeid} passed, but the stack was disrupted while it ran "
            f"({services}); details in the muster section"
        )
        self._attach(report, found)
        run.failed_other = True

    def _write(self, nodeid: str, outcome: str, start: float, end: float):
        if self._write_failed:
            return
        line = _ENCODE(
            {
                "id": nodeid,
                "outcome": outcome,
                "start": rfc3339(start),
                "end": rfc3339(end),
                "worker": self.worker,
                "source": SOURCE,
            }
        ) + "\n"
        try:
            if self._fd is None:
                self._fd = os.open(self.tests_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            # One write per line on an O_APPEND descriptor: lines of several
            # xdist workers never interleave.
            os.write(self._fd, line.encode("utf-8"))
        except OSError as error:
            self._write_failed = True
            self._warnings.append(f"muster: cannot write the tests file {self.tests_file}: {error}")

    def pytest_unconfigure(self, config):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- the process that prints (main, or the xdist controller) --------------

    def pytest_runtest_logreport(self, report):
        for message in getattr(report, "muster_warnings", None) or ():
            if message not in self.warnings_seen:
                self.warnings_seen.append(message)
        if not report.failed:
            return
        self.failing.add(report.nodeid)
        found = getattr(report, "muster_disruptions", None)
        if found:
            services = self.attributed.setdefault(report.nodeid, set())
            services.update(str(d.get("service")) for d in found)

    def summary_line(self) -> str:
        failing = len(self.failing)
        hit = len(self.attributed)
        services = sorted(set().union(*self.attributed.values())) if self.attributed else []
        if not failing:
            return "muster: no failing tests"
        noun = "test" if failing == 1 else "tests"
        if not hit:
            return f"muster: none of {failing} failing {noun} overlapped a disruption of the stack"
        return f"muster: {hit} of {failing} failing {noun} overlapped a disruption of {', '.join(services)}"

    def pytest_terminal_summary(self, terminalreporter):
        for message in self.warnings_seen:
            terminalreporter.write_line(message, yellow=True)
        terminalreporter.write_line(self.summary_line(), bold=bool(self.attributed), red=bool(self.attributed))
