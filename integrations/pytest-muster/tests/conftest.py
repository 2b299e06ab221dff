"""Fixtures for the plugin's own tests: pytester, a muster-like environment and a
fake control socket (only here; the end-to-end test in muster's Swift suite runs
the plugin under the real `muster run`)."""

import json
import os
import shutil
import socketserver
import tempfile
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest

pytest_plugins = ["pytester"]


def _micros(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1_000_000)


class MusterEnv:
    def __init__(self, root):
        self.root = root
        self.tests_file = os.path.join(root, "tests.jsonl")
        self.events_file = os.path.join(root, "events.jsonl")

    def lines(self):
        if not os.path.exists(self.tests_file):
            return []
        with open(self.tests_file) as handle:
            return [json.loads(line) for line in handle]

    def by_name(self):
        return {line["id"].rsplit("::", 1)[-1]: line for line in self.lines()}


@pytest.fixture
def muster_env(monkeypatch, tmp_path):
    env = MusterEnv(str(tmp_path / "muster"))
    os.makedirs(env.root, exist_ok=True)
    open(env.events_file, "w").close()
    monkeypatch.setenv("MUSTER_TESTS_FILE", env.tests_file)
    monkeypatch.setenv("MUSTER_EVENTS", env.events_file)
    monkeypatch.setenv("MUSTER_PROJECT", "plugin-tests")
    monkeypatch.delenv("MUSTER_CONTROL_SOCKET", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    return env


class FakeControl:
    """GET /v1/disruptions answered from a JSON file the inner tests write
    (FAKE_DISRUPTIONS), filtered by from/to the way muster's API filters."""

    def __init__(self, directory, disruptions_file):
        self.path = os.path.join(directory, "control.sock")
        self.disruptions_file = disruptions_file
        self.requests = []
        with open(disruptions_file, "w") as handle:
            handle.write("[]")
        control = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                control.requests.append(self.path)
                if url.path != "/v1/disruptions":
                    self.send_error(404)
                    return
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                with open(control.disruptions_file) as handle:
                    items = json.load(handle)
                low = _micros(query["from"]) if "from" in query else None
                high = _micros(query["to"]) if "to" in query else None
                chosen = [
                    item for item in items
                    if (high is None or _micros(item["start"]) <= high)
                    and (low is None or item.get("end") is None or _micros(item["end"]) >= low)
                ]
                body = json.dumps({"disruptions": chosen}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

            def get_request(self):
                request, _ = super().get_request()
                return request, ("local", 0)

        self.server = Server(self.path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_control(muster_env, monkeypatch):
    # A short folder: unix socket paths are limited to 107 bytes.
    directory = tempfile.mkdtemp(prefix="pm-", dir="/tmp")
    control = FakeControl(directory, os.path.join(muster_env.root, "disruptions.json"))
    monkeypatch.setenv("MUSTER_CONTROL_SOCKET", control.path)
    monkeypatch.setenv("FAKE_DISRUPTIONS", control.disruptions_file)
    yield control
    control.close()
    shutil.rmtree(directory, ignore_errors=True)


# A module the inner test suites import to make a disruption begin or end now,
# the way a real service's events would: the fake API answers it and
# events.jsonl grows.
FAKE_STACK = '''
import json, os
from datetime import datetime, timezone

def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def _save(items):
    with open(os.environ["FAKE_DISRUPTIONS"], "w") as handle:
        json.dump(items, handle)
    with open(os.environ["MUSTER_EVENTS"], "a") as handle:
        handle.write(json.dumps({"seq": len(items), "time": now()}) + "\\n")

def _load():
    with open(os.environ["FAKE_DISRUPTIONS"]) as handle:
        return json.load(handle)

def begin(service="notifier", kind="restarted", seq=7,
          reason="exited with code 1 after 3.2s; was ready",
          log_tail=("consumer lag 0", "fatal: broker went away")):
    items = _load()
    items.append({"seq": seq, "service": service, "kind": kind, "start": now(), "end": None,
                  "reason": reason, "log_tail": list(log_tail)})
    _save(items)

def end(service="notifier"):
    items = _load()
    for item in items:
        if item["service"] == service and item["end"] is None:
            item["end"] = now()
    _save(items)
'''


@pytest.fixture
def fake_stack(pytester):
    pytester.makepyfile(fake_stack=FAKE_STACK)
    return pytester
