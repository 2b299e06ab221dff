"""The pytest11 entry point ``muster``.

This module is all that loads outside ``muster run``: it adds the command-line
option and, only when ``MUSTER_TESTS_FILE`` is set, imports the recorder and
registers it. Without that variable the plugin adds no hooks that run per test.
"""

from __future__ import annotations

import os

TESTS_FILE_ENV = "MUSTER_TESTS_FILE"


def pytest_addoption(parser):
    group = parser.getgroup("muster", "muster (active under `muster run`)")
    group.addoption(
        "--muster-strict",
        action="store_true",
        default=False,
        help="under `muster run`: report a test that passed while a service of the "
        "stack was disrupted (restarted, exited, unavailable...) as an error",
    )


def pytest_configure(config):
    tests_file = os.environ.get(TESTS_FILE_ENV)
    if not tests_file:
        return
    from .recorder import MusterRecorder

    config.pluginmanager.register(MusterRecorder(config, tests_file), "muster-recorder")
