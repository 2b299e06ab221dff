"""Disruptions of the stack, as muster's control API computes them.

muster owns the definition of a disruption (which events begin and end one); the
plugin only asks ``GET /v1/disruptions`` on the control socket and intersects the
answer with a test's window. ``DisruptionSource`` keeps that cheap: it asks only
when the event log grew since its last answer or a disruption was still open then.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from datetime import datetime, timezone
from urllib.parse import urlencode

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def rfc3339(epoch_seconds: float) -> str:
    """RFC 3339 UTC with microseconds, the format of events.jsonl."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def micros(text: str) -> int:
    """Microseconds since the epoch of an RFC 3339 time (any offset)."""
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def local_clock(text: str) -> str:
    """HH:MM:SS.mmm in local time, for people reading a failure."""
    try:
        moment = datetime.fromtimestamp(micros(text) / 1_000_000)
    except (ValueError, TypeError, OverflowError):
        return str(text)
    return moment.strftime("%H:%M:%S.") + "%03d" % (moment.microsecond // 1000)


class ControlUnavailable(Exception):
    """The control socket did not answer the disruptions question."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("muster", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class ControlClient:
    """muster's control API over its unix socket: the disruptions, and the database calls."""

    def __init__(self, socket_path: str, timeout: float = 3.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def _exchange(self, method: str, target: str, body: dict | None = None) -> tuple[int, bytes]:
        conn = _UnixConnection(self.socket_path, self.timeout)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, target, body=None if body is None else json.dumps(body).encode(), headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ControlUnavailable(f"{self.socket_path}: {error}") from None
        finally:
            conn.close()

    def disruptions(self, start: str | None = None, end: str | None = None) -> list[dict]:
        query = {}
        if start:
            query["from"] = start
        if end:
            query["to"] = end
        target = "/v1/disruptions" + ("?" + urlencode(query) if query else "")
        status, body = self._exchange("GET", target)
        if status != 200:
            raise ControlUnavailable(
                f"{self.socket_path}: GET {target} answered HTTP {status}"
                + (" (is this muster too old for /v1/disruptions?)" if status == 404 else "")
            )
        try:
            items = json.loads(body).get("disruptions", [])
        except (ValueError, AttributeError):
            raise ControlUnavailable(f"{self.socket_path}: GET {target} answered no disruptions JSON") from None
        return [item for item in items if isinstance(item, dict)]

    def post(self, target: str, body: dict) -> tuple[int, dict]:
        """POST a JSON body; the HTTP status and the JSON answer."""
        status, answer = self._exchange("POST", target, body)
        try:
            decoded = json.loads(answer)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise ControlUnavailable(f"{self.socket_path}: POST {target} answered HTTP {status} without JSON")
        return status, decoded


def overlaps(disruption: dict, start_us: int, end_us: int) -> bool:
    """[start, end] of a test intersects [d.start, d.end or forever]."""
    try:
        d_start = micros(disruption["start"])
        d_end = disruption.get("end")
        d_end_us = micros(d_end) if d_end else None
    except (KeyError, ValueError, TypeError):
        return False
    return d_start <= end_us and (d_end_us is None or d_end_us >= start_us)


class DisruptionSource:
    """Answers "which disruptions overlapped [start, end]" for the tests of one
    process, asking the control API only when something can have changed.

    After an answer it remembers the size of events.jsonl and whether a disruption
    was still open. A disruption overlapping a later test either was open then or
    began later, which appends an event, so when the file has the same size and
    nothing was open the answer is "none" without a request (one stat per test).
    """

    def __init__(self, socket_path: str | None, events_path: str | None, warn):
        self._client = ControlClient(socket_path) if socket_path else None
        self._events = events_path
        self._warn = warn
        self._size = -1
        self._open = True
        self.requests = 0
        if self._client is None:
            self._disable("MUSTER_CONTROL_SOCKET is not set (a muster older than the plugin?)")

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _disable(self, why: str):
        self._client = None
        self._warn(
            f"muster: cannot ask which disruptions overlapped a test: {why}. "
            "Tests are still recorded in MUSTER_TESTS_FILE for `muster run` to attribute."
        )

    def _events_size(self) -> int:
        if not self._events:
            return -2
        try:
            return os.stat(self._events).st_size
        except OSError:
            return -2

    def overlapping(self, start: float, end: float) -> list[dict]:
        """The disruptions overlapping the test window [start, end] (epoch seconds)."""
        if self._client is None:
            return []
        size = self._events_size()
        if size >= 0 and size == self._size and not self._open:
            return []
        start_text, end_text = rfc3339(start), rfc3339(end)
        try:
            self.requests += 1
            # No upper bound: a disruption that began after `end` but before this
            # request must still count as open for the next test's check.
            found = self._client.disruptions(start_text, None)
        except ControlUnavailable as error:
            self._disable(str(error))
            return []
        self._size = size
        self._open = any(not item.get("end") for item in found)
        # The window as written to the tests file (microseconds), so the plugin
        # and `muster run` intersect the same intervals.
        start_us, end_us = micros(start_text), micros(end_text)
        return [item for item in found if overlaps(item, start_us, end_us)]


_VERBS = {
    "restarted": "restarted",
    "restart_detected": "was restarted (detected by its monitor)",
    "exited": "exited",
    "failed": "failed",
    "stopping": "was stopped",
    "unavailable": "became unavailable",
}


def describe(disruption: dict, log_lines: int = 5) -> str:
    """One disruption as a person reads it in a failure:
    ``notifier restarted at 12:00:01.123 (exited with code 1 after 3.2s) while this
    test ran``, then when it was back and the last log lines before it."""
    service = disruption.get("service", "?")
    kind = disruption.get("kind", "disrupted")
    verb = _VERBS.get(kind, kind)
    text = f"{service} {verb} at {local_clock(disruption.get('start', '?'))}"
    reason = disruption.get("reason")
    if reason:
        text += f" ({reason})"
    text += " while this test ran"
    end = disruption.get("end")
    text += f"; back at {local_clock(end)}" if end else "; not back yet"
    seq = disruption.get("seq")
    if seq is not None:
        text += f" [event {seq}]"
    tail = [str(line) for line in (disruption.get("log_tail") or [])][-log_lines:]
    if tail:
        text += f"\n  last log lines of {service}:"
        text += "".join(f"\n    | {line}" for line in tail)
    return text


def summary_entry(disruption: dict) -> dict:
    """The part of a disruption a report carries to the xdist controller."""
    return {key: disruption.get(key) for key in ("seq", "service", "kind", "start", "end", "reason")}
