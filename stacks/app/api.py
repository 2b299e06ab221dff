#!/usr/bin/env python3
"""Demo app HTTP API (stdlib http.server) in front of Postgres and Redis.

  python3 api.py [--port PORT] [--host 127.0.0.1]

Environment: DATABASE_URL (postgresql://...), REDIS_URL (redis://host:port/0),
PORT (when --port is not given; default 8000), API_ACCESS_LOG=1 to log requests.

Endpoints:
  GET /healthz  200 {"status":"ok","pid":..,"started_at":..,"instance":..,"checks":{..}}
                503 {"status":"error","error":"postgres: ...",...} when a dependency fails
  GET /users    200 {"users":[{"id":1,"name":"alice"}]}  (the migrate task's table)
  GET /         200 the same identity fields as /healthz, without checks

`instance` is a random id chosen at process start, `started_at` the process
start time (UTC, ISO 8601): together with `pid` they let a watcher tell a
restarted API from the one it saw before. SIGTERM / SIGINT stop the server and
exit 0 within a second.
"""

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import psycopg2
    import redis
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"api: error: cannot import {exc.name} ({exc}); run it with the venv python "
          "(scripts/lib/python-env.sh)", file=sys.stderr, flush=True)
    sys.exit(1)

STARTED_AT = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
INSTANCE = uuid.uuid4().hex[:12]
PID = os.getpid()


def log(msg):
    print(f"api: {msg}", flush=True)


def one_line(exc):
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class PgPool:
    """A tiny thread-safe pool: reuse up to `size` idle connections, drop broken ones."""

    def __init__(self, url, size=4):
        self.url = url
        self.idle = queue.LifoQueue(maxsize=size)

    def _connect(self):
        conn = psycopg2.connect(self.url, connect_timeout=2, application_name="api",
                                options="-c statement_timeout=2000")
        conn.autocommit = True
        return conn

    def query(self, sql, args=None):
        try:
            conn, pooled = self.idle.get_nowait(), True
        except queue.Empty:
            conn, pooled = self._connect(), False
        try:
            rows = self._run(conn, sql, args)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            conn.close()
            if not pooled:
                raise
            # An idle pooled connection may have died with a restarted server:
            # one more try on a fresh connection before reporting an error.
            conn = self._connect()
            try:
                rows = self._run(conn, sql, args)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        try:
            self.idle.put_nowait(conn)
        except queue.Full:
            conn.close()
        return rows

    @staticmethod
    def _run(conn, sql, args):
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []

    def close(self):
        while True:
            try:
                self.idle.get_nowait().close()
            except queue.Empty:
                return
            except Exception:
                pass


class App:
    def __init__(self, database_url, redis_url):
        self.pg = PgPool(database_url) if database_url else None
        self.redis = (redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
                      if redis_url else None)

    def identity(self):
        return {"pid": PID, "started_at": STARTED_AT, "instance": INSTANCE}

    def health(self):
        checks, errors = {}, []
        if self.pg is None:
            errors.append("postgres: DATABASE_URL is not set")
        else:
            try:
                self.pg.query("SELECT 1")
                checks["postgres"] = "ok"
            except Exception as exc:
                errors.append(f"postgres: {one_line(exc)}")
        if self.redis is None:
            errors.append("redis: REDIS_URL is not set")
        else:
            try:
                self.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                errors.append(f"redis: {one_line(exc)}")
        body = {"status": "ok" if not errors else "error", **self.identity(), "checks": checks}
        if errors:
            body["error"] = "; ".join(errors)
        return (200 if not errors else 503), body

    def users(self):
        if self.pg is None:
            return 503, {"error": "DATABASE_URL is not set"}
        try:
            rows = self.pg.query("SELECT id, name FROM users ORDER BY id")
        except psycopg2.errors.UndefinedTable:
            return 503, {"error": "table users does not exist (has the migrate task run?)"}
        except Exception as exc:
            return 503, {"error": f"postgres: {one_line(exc)}"}
        return 200, {"users": [{"id": r[0], "name": r[1]} for r in rows]}

    def close(self):
        if self.pg is not None:
            self.pg.close()
        if self.redis is not None:
            try:
                self.redis.close()
            except Exception:
                pass


class Handler(BaseHTTPRequestHandler):
    server_version = "muster-demo-api/1"
    protocol_version = "HTTP/1.1"
    app = None  # set in main()
    access_log = False
    timeout = 30  # idle keep-alive connections do not pin a thread forever

    def _send(self, status, body, head=False):
        data = (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _route(self, head=False):
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            status, body = self.app.health()
        elif path == "/users":
            status, body = self.app.users()
        elif path == "/":
            status, body = 200, {"service": "api", **self.app.identity()}
        else:
            status, body = 404, {"error": f"no route for {path}"}
        self._send(status, body, head)

    def do_GET(self):
        self._route()

    def do_HEAD(self):
        self._route(head=True)

    def log_message(self, fmt, *args):
        if self.access_log:
            sys.stdout.write("api: %s %s\n" % (self.address_string(), fmt % args))
            sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description="muster demo API")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default: $PORT or 8000)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    port = args.port
    if port is None:
        try:
            port = int(os.environ.get("PORT") or 8000)
        except ValueError:
            print(f"api: error: PORT={os.environ.get('PORT')!r} is not a number", file=sys.stderr)
            return 2

    database_url = os.environ.get("DATABASE_URL", "").strip()
    redis_url = os.environ.get("REDIS_URL", "").strip()
    if not database_url:
        log("warning: DATABASE_URL is not set; /healthz will answer 503")
    if not redis_url:
        log("warning: REDIS_URL is not set; /healthz will answer 503")

    app = App(database_url, redis_url)
    Handler.app = app
    Handler.access_log = os.environ.get("API_ACCESS_LOG", "") not in ("", "0", "false")

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    try:
        server = ThreadingHTTPServer((args.host, port), Handler)
    except OSError as exc:
        print(f"api: error: cannot listen on {args.host}:{port}: {exc.strerror or exc}",
              file=sys.stderr, flush=True)
        return 1

    stop = threading.Event()
    stop_reason = []

    def on_signal(signum, _frame):
        stop_reason.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="http", daemon=True)
    thread.start()
    # Kept in this form for log probes: "api listening on HOST:PORT".
    print(f"api listening on {args.host}:{server.server_address[1]} "
          f"(pid {PID}, instance {INSTANCE}, started {STARTED_AT})", flush=True)

    while not stop.wait(0.5):
        if not thread.is_alive():
            log("error: HTTP server thread died")
            return 1

    log(f"{stop_reason[0] if stop_reason else 'stop'} received, shutting down")
    server.shutdown()
    server.server_close()
    app.close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
