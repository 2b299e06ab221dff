"""A database per pytest-xdist worker, restored from a muster snapshot when asked.

Asked for with ``--muster-db SERVICE`` (or ``muster_db = SERVICE`` in the ini file),
under ``muster run`` (which names the control socket in MUSTER_CONTROL_SOCKET):

- With ``-n N``, the controller asks muster once, before the workers start, to clone
  the service's database from its snapshot into ``NAME_gw0`` ... ``NAME_gwN-1``
  (``POST /v1/db/clone``), named as pytest-xdist names its workers.
- Each worker then sees its own database in the stack's variables: ``SERVICE_DATABASE``
  and ``SERVICE_URL`` (``DB_DATABASE``, ``DB_URL``) name ``NAME_gwK``, set before any
  test module is imported, so the code under test connects there unchanged.
- The ``muster_db`` fixture, and the ``muster_restore`` marker, restore that database
  from the snapshot before the test (``POST /v1/db/restore``): a few milliseconds, with
  the snapshot's rows and nothing a test before wrote.

Without ``-n`` the one database is the service's own. Without a snapshot muster says
so in one line, and the test that asked for a restore errors with it.

With ``--muster-keep-failed``, a test that used the database and failed has it kept
(``POST /v1/db/keep``): renamed to ``NAME_gwK_failed_TEST`` (63 bytes at most, made
unique by muster), never restored over, while a fresh copy takes its place; the test's
``muster`` report section says its name and connection string. ``muster db list``
shows kept databases, ``muster db drop SERVICE NAME`` drops one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

from .disruptions import ControlClient, ControlUnavailable


def variable_prefix(service: str) -> str:
    """muster's variable names: SERVICE_OUTPUT upper-cased, other characters as '_'."""
    return "".join(c if c.isalnum() else "_" for c in service.upper())


def with_database(url: str, database: str) -> str:
    """The URL with its path (the database) replaced."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database, safe=""), parts.query, parts.fragment))


class MusterDatabaseError(Exception):
    """muster refused or could not do what was asked (its own one-line message)."""


@dataclass
class WorkerDatabase:
    """What ``muster_db`` gives a test: the worker's database, freshly restored."""

    service: str
    name: str
    url: str


class WorkerDatabases:
    """Registered as a plugin when --muster-db names a service."""

    @classmethod
    def from_config(cls, config):
        service = config.getoption("muster_db") or config.getini("muster_db")
        socket_path = os.environ.get("MUSTER_CONTROL_SOCKET")
        if not service or not socket_path:
            return None
        return cls(config, check_service(service), socket_path)

    def __init__(self, config, service: str, socket_path: str):
        self.config = config
        self.service = service
        self.client = ControlClient(socket_path, timeout=60.0)
        self.worker = os.environ.get("PYTEST_XDIST_WORKER")
        prefix = variable_prefix(service)
        self.database_var, self.url_var = prefix + "_DATABASE", prefix + "_URL"
        self.base = os.environ.get(self.database_var)
        if not self.base:
            raise MusterDatabaseError(
                f"--muster-db {service}: {self.database_var} is not set; name a Postgres service of the "
                "stack, and run pytest under `muster run`"
            )
        self.clone_error = None
        self.keep_failed = bool(config.getoption("muster_keep_failed", False))
        if self.worker:
            # The worker's own database, before test modules read the variables.
            self.name = f"{self.base}_{self.worker}"
            os.environ[self.database_var] = self.name
            if os.environ.get(self.url_var):
                os.environ[self.url_var] = with_database(os.environ[self.url_var], self.name)
        else:
            self.name = self.base

    # -- the controller, before the workers start (pytest-xdist's hook)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config, specs):
        try:
            self.clone_for(len(list(specs)))
        except MusterDatabaseError as error:
            raise pytest.UsageError(f"--muster-db {self.service}: {error}") from None

    def pytest_runtest_setup(self, item):
        if item.get_closest_marker("muster_restore") is not None and "muster_db" not in item.fixturenames:
            try:
                self.restore()
            except MusterDatabaseError as error:
                pytest.fail(f"muster_restore: {error}", pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if self.keep_failed and report.when == "call" and report.failed and self._uses_database(item):
            report.sections.append(("muster", self._keep(item)))
        return report

    @staticmethod
    def _uses_database(item) -> bool:
        return "muster_db" in getattr(item, "fixturenames", ()) or item.get_closest_marker("muster_restore") is not None

    def _keep(self, item) -> str:
        """Keeps the failed test's database; the line for its report."""
        try:
            answer = self._post("/v1/db/keep", {"service": self.service, "database": self.name, "test": item.name})
        except MusterDatabaseError as error:
            return f"could not keep the failed test's database {self.name}: {error}"
        kept = (answer.get("databases") or ["?"])[0]
        url = os.environ.get(self.url_var, "")
        where = with_database(url, kept) if url else f"database {kept} of service {self.service}"
        return (f"kept the failed test's database as {kept}: {where}\n"
                f"(never restored over; drop it with: muster db drop {self.service} {kept})")

    def clone_for(self, count: int) -> None:
        answer = self._post("/v1/db/clone", {"service": self.service, "database": self.base, "count": count})
        made = answer.get("databases") or []
        if len(made) != count:
            raise MusterDatabaseError(f"muster cloned {made}, not {count} databases")

    # -- per test

    def restore(self) -> WorkerDatabase:
        self._post("/v1/db/restore", {"service": self.service, "database": self.name})
        return WorkerDatabase(self.service, self.name, os.environ.get(self.url_var, ""))

    def _post(self, path: str, body: dict) -> dict:
        try:
            status, answer = self.client.post(path, body)
        except ControlUnavailable as error:
            raise MusterDatabaseError(str(error)) from None
        if status != 200 or not answer.get("ok", False):
            raise MusterDatabaseError(f"muster: {answer.get('error') or f'HTTP {status}'}")
        return answer


_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_service(name: str) -> str:
    if not _SAFE.match(name or ""):
        raise MusterDatabaseError(f"--muster-db {name!r}: name a service of the stack, like --muster-db db")
    return name
