"""A hostile peer for muster's probes: it listens where the real server would and
answers wrongly. Usage: hostile_peer.py PROTOCOL MODE [the real server's arguments]

PROTOCOL: redis, postgres, kafka, http. MODE:
  garbage  answer bytes of another protocol
  half     answer the first bytes of a valid message, then stall
  huge     answer a header that announces an enormous length, then stall
  close    close every connection at once
  silent   read and never answer (a server that ignores the stop command)

The port comes from the arguments muster gives the real server (redis --port N,
postgres -p N and unix_socket_directories=DIR, tansu --listener-url tcp://H:N) or
from $PORT. SIGTERM and SIGINT end it at once, saying so on stdout.
"""
import os
import re
import select
import signal
import socket
import sys
import threading

protocol, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]

ANSWERS = {
    "redis": {"garbage": b"HTTP/1.1 400 Bad Request\r\n\r\n", "half": b"$10\r\nhel",
              "huge": b"$99999999999\r\n"},
    "postgres": {"garbage": b"HTTP/1.1 400 Bad Request\r\n\r\n", "half": b"R\x00\x00\x00\x08\x00",
                 "huge": b"R\x7f\xff\xff\xf0"},
    "kafka": {"garbage": b"HTTP/1.1 400 Bad Request\r\n\r\n", "half": b"\x00\x00\x00\x20\x00\x00",
              "huge": b"\x7f\xff\xff\xff"},
    "http": {"garbage": b"SSH-2.0-OpenSSH_9.2\r\n", "half": b"HTTP/1.1 20",
             "huge": b"HTTP/1.1 200 " + b"x" * (1 << 20)},
}


def find_port():
    for i, arg in enumerate(args):
        if arg in ("--port", "-p") and i + 1 < len(args):
            return int(args[i + 1])
        match = re.match(r"tcp://[^:]+:(\d+)$", arg)
        if match:
            return int(match.group(1))
    return int(os.environ["PORT"])


def stop(signum, _frame):
    print(f"hostile {protocol}: got {signal.Signals(signum).name}", flush=True)
    os._exit(0)


def serve(conn):
    held.append(conn)
    if mode == "close":
        conn.close()
        return
    try:
        conn.settimeout(0.5)
        try:
            conn.recv(65536)
        except socket.timeout:
            pass
        if mode in ANSWERS[protocol]:
            conn.sendall(ANSWERS[protocol][mode])
    except OSError:
        pass  # the probe gave up first


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
held = []
port = find_port()
listeners = []
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", port))
listeners.append(tcp)
for arg in args:
    if arg.startswith("unix_socket_directories="):
        path = f"{arg.split('=', 1)[1]}/.s.PGSQL.{port}"
        if os.path.exists(path):
            os.unlink(path)
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(path)
        listeners.append(unix)
for listener in listeners:
    listener.listen(64)
print(f"hostile {protocol} ({mode}) listening on {port}", flush=True)
while True:
    ready, _, _ = select.select(listeners, [], [])
    for listener in ready:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
