"""The pytest11 entry point ``muster``.

This module is all that loads outside ``muster run``: it adds the command-line
options and, only when ``MUSTER_TESTS_FILE`` is set, imports the recorder and
registers it. Without that variable the plugin adds no hooks that run per test.
``--muster-db SERVICE`` adds a database per xdist worker (databases.py).
"""

from __future__ import annotations

import os

import pytest

TESTS_FILE_ENV = "MUSTER_TESTS_FILE"
CONTROL_SOCKET_ENV = "MUSTER_CONTROL_SOCKET"


def pytest_addoption(parser):
    group = parser.getgroup("muster", "muster (active under `muster run`)")
    group.addoption(
        "--muster-strict",
        action="store_true",
        default=False,
        help="under `muster run`: report a test that passed while a service of the "
        "stack was disrupted (restarted, exited, unavailable...) as an error",
    )
    group.addoption(
        "--muster-db",
        dest="muster_db",
        default=None,
        metavar="SERVICE",
        help="under `muster run`: give each pytest-xdist worker its own copy of SERVICE's database "
        "(cloned from its muster snapshot) and let the muster_db fixture restore it before a test",
    )
    group.addoption(
        "--muster-keep-failed",
        dest="muster_keep_failed",
        action="store_true",
        default=False,
        help="with --muster-db: keep the database of a test that failed under a name that says which test "
        "(DATABASE_failed_TEST), never restored over, and print how to connect to it in the test's muster section",
    )
    parser.addini("muster_db", "like --muster-db: the Postgres service whose database each worker gets", default="")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "muster_restore: restore the worker's database from its muster snapshot before this test (--muster-db)"
    )
    if config.getoption("muster_db") and not os.environ.get(CONTROL_SOCKET_ENV):
        # Asked for on the command line outside `muster run`: every test using muster_db
        # would fail alike, so say once what to do instead (pytest exits 4).
        raise pytest.UsageError(
            f"--muster-db {config.getoption('muster_db')} works under `muster run` ({CONTROL_SOCKET_ENV} is not set); "
            "run: muster run -- python -m pytest ..."
        )
    if config.getoption("muster_db") or config.getini("muster_db"):
        from .databases import MusterDatabaseError, WorkerDatabases

        try:
            databases = WorkerDatabases.from_config(config)
        except MusterDatabaseError as error:
            raise pytest.UsageError(str(error)) from None
        if databases is not None:
            config.pluginmanager.register(databases, "muster-databases")
    tests_file = os.environ.get(TESTS_FILE_ENV)
    if not tests_file:
        return
    from .recorder import MusterRecorder

    config.pluginmanager.register(MusterRecorder(config, tests_file), "muster-recorder")


@pytest.fixture
def muster_db(request):
    """The worker's database (``--muster-db SERVICE``), restored from its snapshot
    before the test: ``.name``, ``.url`` and ``.service``."""
    databases = request.config.pluginmanager.get_plugin("muster-databases")
    if databases is None:
        if not os.environ.get(CONTROL_SOCKET_ENV):
            pytest.fail(f"muster_db works under `muster run` ({CONTROL_SOCKET_ENV} is not set); "
                        "run: muster run -- python -m pytest ...", pytrace=False)
        pytest.fail("muster_db needs --muster-db SERVICE (or muster_db = SERVICE in the ini file)", pytrace=False)
    from .databases import MusterDatabaseError

    try:
        return databases.restore()
    except MusterDatabaseError as error:
        pytest.fail(f"muster_db: {error}", pytrace=False)
