"""Readiness checks the harness uses for its own baselines (the "ideal" contender).

Each check is one attempt: it returns True when the service answered as ready
and False on any failure. The caller polls it (every 2 ms for the ideal).
They mirror what muster checks:

- Postgres: a real TCP connection (psycopg2/libpq) and `SELECT 1` answering 1.
- Redis: `PING` over a socket answered with `+PONG`.
- Kafka (Tansu): a Metadata request (v1) whose broker list includes the broker
  itself on the expected port.
- HTTP: `GET /` answered with a 2xx/3xx status.
"""

import socket
import struct

try:
    import psycopg2  # from the project venv
except ImportError:  # pragma: no cover - reported by the caller
    psycopg2 = None


def postgres_ready(port, timeout=1.0):
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                connect_timeout=max(1, int(timeout)), application_name="bench")
    except Exception:
        return False
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        return cur.fetchone()[0] == 1
    except Exception:
        return False
    finally:
        conn.close()


def _connect(port, timeout):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def redis_ready(port, timeout=1.0):
    try:
        with _connect(port, timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = b""
            while not answer.endswith(b"\r\n"):
                chunk = sock.recv(64)
                if not chunk:
                    return False
                answer += chunk
            return answer == b"+PONG\r\n"
    except OSError:
        return False


def _kafka_string(text):
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def kafka_metadata_brokers(port, timeout=1.0):
    """Sends Metadata v1 (no topics) and returns [(node_id, host, port)]."""
    body = struct.pack(">hhi", 3, 1, 7) + _kafka_string("muster-bench") + struct.pack(">i", 0)
    with _connect(port, timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", _recv_exact(sock, 4))[0]
        data = _recv_exact(sock, size)
    offset = 0

    def take(fmt):
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values

    def string():
        nonlocal offset
        (length,) = take(">h")
        if length < 0:
            return None
        text = data[offset:offset + length].decode()
        offset += length
        return text

    (correlation,) = take(">i")
    if correlation != 7:
        raise ValueError("wrong correlation id")
    (count,) = take(">i")
    brokers = []
    for _ in range(max(count, 0)):
        (node,) = take(">i")
        host = string()
        (broker_port,) = take(">i")
        string()  # rack (v1+)
        brokers.append((node, host, broker_port))
    return brokers


def kafka_ready(port, timeout=1.0):
    try:
        return any(p == port for _, _, p in kafka_metadata_brokers(port, timeout))
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return False


def http_ready(port, path="/", timeout=1.0):
    try:
        with _connect(port, timeout) as sock:
            sock.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(256)
                if not chunk:
                    return False
                head += chunk
            parts = head.split(b"\r\n", 1)[0].split()
            return len(parts) >= 2 and parts[1][:1] in (b"2", b"3")
    except OSError:
        return False


def tcp_accepts(port, timeout=0.3):
    try:
        with _connect(port, timeout):
            return True
    except OSError:
        return False
