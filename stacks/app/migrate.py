#!/usr/bin/env python3
"""Demo app migration task: creates the app's tables and a seed user, idempotently.

Environment:
  DATABASE_URL   postgresql://user:password@host:port/database (required)
  MIGRATE_WAIT   seconds to keep retrying the first connection (default 5)

Prints one line per step and exits 0; on any error prints one clear line
(`migrate: error: ...`) on stderr and exits 1 (2 for a missing DATABASE_URL).
Safe to run concurrently: the work happens in one transaction under an
advisory lock.
"""

import os
import sys
import time

try:
    import psycopg2
except ImportError as exc:  # pragma: no cover - environment problem
    print(f"migrate: error: cannot import psycopg2 ({exc}); run it with the venv python "
          "(scripts/lib/python-env.sh)", file=sys.stderr)
    sys.exit(1)

LOCK_KEY = 0x6D7573746572  # "muster"

TABLES = [
    ("users", """
        CREATE TABLE IF NOT EXISTS users (
            id   serial PRIMARY KEY,
            name text NOT NULL
        )"""),
    ("notifications", """
        CREATE TABLE IF NOT EXISTS notifications (
            id         serial PRIMARY KEY,
            user_id    int NOT NULL,
            body       text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )"""),
]
INDEXES = [
    ("notifications_user_id_idx",
     "CREATE INDEX IF NOT EXISTS notifications_user_id_idx ON notifications (user_id)"),
]
SEED_USERS = ["alice"]


def log(msg):
    print(f"migrate: {msg}", flush=True)


def fail(msg, code=1):
    print(f"migrate: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def redact(url):
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, at, hostpart = rest.rpartition("@")
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}://{creds}@{hostpart}"


def connect(url, wait):
    deadline = time.monotonic() + wait
    delay = 0.1
    while True:
        try:
            return psycopg2.connect(url, connect_timeout=3, application_name="migrate")
        except psycopg2.OperationalError as exc:
            detail = " ".join(str(exc).split())
            # The server answered with a definite "no" (unknown database, bad
            # password, ...): retrying will not help. "starting up" / "shutting
            # down" and refused connections are worth another try.
            final = "FATAL" in detail and "starting up" not in detail and "shutting down" not in detail
            if final or time.monotonic() + delay > deadline:
                fail(f"cannot connect to {redact(url)}: {detail}")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def main():
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        fail("DATABASE_URL is not set (expected postgresql://user:password@host:port/database)", 2)
    try:
        wait = float(os.environ.get("MIGRATE_WAIT", "5"))
    except ValueError:
        fail("MIGRATE_WAIT must be a number of seconds", 2)

    conn = connect(url, wait)
    try:
        with conn:  # one transaction: commit on success, roll back on error
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                cur.execute("SELECT current_database(), current_user")
                db, user = cur.fetchone()
                log(f"connected to database {db!r} as {user!r}")

                for name, ddl in TABLES:
                    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
                    existed = cur.fetchone()[0]
                    cur.execute(ddl)
                    log(f"table {name}: {'already exists' if existed else 'created'}")
                for name, ddl in INDEXES:
                    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
                    existed = cur.fetchone()[0]
                    cur.execute(ddl)
                    log(f"index {name}: {'already exists' if existed else 'created'}")

                for name in SEED_USERS:
                    cur.execute(
                        "INSERT INTO users (name) SELECT %s "
                        "WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = %s) RETURNING id",
                        (name, name),
                    )
                    row = cur.fetchone()
                    if row:
                        log(f"seed user {name!r}: inserted (id {row[0]})")
                    else:
                        log(f"seed user {name!r}: already present")

                cur.execute("SELECT count(*) FROM users")
                count = cur.fetchone()[0]
        log(f"done ({count} user{'s' if count != 1 else ''})")
    except psycopg2.Error as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        fail(f"migration failed: {detail}")
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
