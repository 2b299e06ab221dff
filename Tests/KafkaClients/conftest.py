"""The Kafka clients users run, against the broker muster starts (`engine: kafka`).

One stack serves every test. Tests/IntegrationTests/KafkaClientTests.swift starts it
from stack.yaml beside this file with the built muster and hands it over through:

  MUSTER_KAFKA_BOOTSTRAP  host:port of the broker (`${bus.bootstrap}`)
  MUSTER_BIN              the muster binary, for `muster restart bus`
  MUSTER_KAFKA_STACK_DIR  the folder of the running stack file

Without MUSTER_KAFKA_BOOTSTRAP the suite starts that stack itself (`muster up -d` in a
temporary folder, `muster down` at the end), which needs MUSTER_BIN or a built
.build/debug/muster:

  .venv/bin/python -m pytest -q Tests/KafkaClients

Each test makes its own topics and groups (uuid names), so only the broker restart
changes what other tests see: it runs last (see pytest_collection_modifyitems).

Every consumer group here uses session.timeout.ms=6000: the built-in broker (Tansu)
holds a group's join for session.timeout.ms / 2 waiting for more members, which is
23 s at the clients' default of 45 s and 3 s at 6000.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent

# The session timeout every consumer group of the suite uses, and the heartbeat that fits it.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000

# The topic stack.yaml declares, and its partitions.
DECLARED_TOPIC = "orders"
DECLARED_PARTITIONS = 2

# The service name of the broker in stack.yaml.
BROKER_SERVICE = "bus"

# How long any one wait of the suite may last before the test fails (a bound, not a measure).
WAIT_SECONDS = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "restarts_broker: restarts the shared broker; runs after every other test")


def pytest_collection_modifyitems(session, config, items):
    """Tests that restart the broker go last, so every other test sees one broker incarnation."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_broker") is not None)


class Stack:
    """The running stack: its broker address, and the muster that runs it."""

    def __init__(self, bootstrap, muster, directory):
        self.bootstrap = bootstrap
        self.muster_binary = muster
        self.directory = directory

    def muster(self, *arguments, check=True):
        """Runs `muster ARGUMENTS` in the stack's folder; returns the completed process."""
        done = subprocess.run([self.muster_binary, *arguments], cwd=self.directory, capture_output=True, text=True,
                              timeout=WAIT_SECONDS * 2, env={**os.environ, "NO_COLOR": "1"})
        if check and done.returncode != 0:
            raise AssertionError(f"muster {' '.join(arguments)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        return done


def _muster_binary():
    binary = os.environ.get("MUSTER_BIN") or str(REPO / ".build" / "debug" / "muster")
    if not os.access(binary, os.X_OK):
        pytest.exit(f"no muster binary at {binary}: build it (swift build) or set MUSTER_BIN", returncode=2)
    return binary


@pytest.fixture(scope="session")
def stack():
    bootstrap = os.environ.get("MUSTER_KAFKA_BOOTSTRAP")
    if bootstrap:
        directory = os.environ.get("MUSTER_KAFKA_STACK_DIR")
        if not directory:
            pytest.exit("MUSTER_KAFKA_BOOTSTRAP is set but MUSTER_KAFKA_STACK_DIR is not", returncode=2)
        yield Stack(bootstrap, _muster_binary(), directory)
        return
    # Standalone: a stack of our own, torn down at the end.
    directory = tempfile.mkdtemp(prefix="muster-kafka-clients-")
    name = "kafka-clients-" + uuid.uuid4().hex[:8]
    pathlib.Path(directory, "muster.yaml").write_text(f"name: {name}\n" + (HERE / "stack.yaml").read_text())
    own = Stack(None, _muster_binary(), directory)
    try:
        own.muster("up", "-d")
        variables = json.loads(own.muster("env", "--format", "json").stdout)
        own.bootstrap = next(value for key, value in variables.items() if key.endswith("BOOTSTRAP"))
        yield own
    finally:
        own.muster("down", check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def bootstrap(stack):
    return stack.bootstrap


@pytest.fixture
def names():
    """Fresh topic and group names for one test."""
    suffix = uuid.uuid4().hex[:10]

    class Names:
        topic = f"topic-{suffix}"
        group = f"group-{suffix}"

        @staticmethod
        def more(prefix):
            return f"{prefix}-{suffix}"

    return Names
