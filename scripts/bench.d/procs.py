"""Process bookkeeping for the harness: every process group it starts is
recorded and killed at exit, whatever happens; leak checks scan /proc."""

import atexit
import os
import signal
import socket
import subprocess
import threading
import time

_lock = threading.Lock()
_groups = set()          # process groups we started (killed at exit)
_cleanups = []           # callables run at exit, newest first
_roots = []              # temp roots: any process whose cwd/cmdline is under one is ours


def register_group(pgid):
    with _lock:
        _groups.add(pgid)


def forget_group(pgid):
    with _lock:
        _groups.discard(pgid)


def add_cleanup(fn):
    with _lock:
        _cleanups.append(fn)


def remove_cleanup(fn):
    with _lock:
        if fn in _cleanups:
            _cleanups.remove(fn)


def add_root(path):
    with _lock:
        _roots.append(os.path.realpath(path))


def spawn(argv, **kwargs):
    """Popen in a new session (its own process group), recorded for cleanup."""
    kwargs.setdefault("start_new_session", True)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(argv, **kwargs)
    register_group(proc.pid)
    return proc


def wait_exact(proc, timeout, stdout_pipe=False):
    """Waits for proc with a blocking waitpid, so the exit is seen the moment it
    happens. (Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which
    would round every timing up to a 50 ms grid.) After timeout the process group
    is killed. Returns the captured stdout when stdout_pipe is set."""
    timer = threading.Timer(timeout, kill_group, args=(proc.pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()
    try:
        if stdout_pipe:
            out = proc.stdout.read()
            proc.wait()
            return out
        proc.wait()
        return None
    finally:
        timer.cancel()


def alive(pid):
    """True while the pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def wait_gone(pids, timeout):
    """Polls until none of pids is alive; returns the ones still alive."""
    deadline = time.monotonic() + timeout
    pending = [p for p in pids if p]
    while True:
        pending = [p for p in pending if alive(p)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.001)


def _stat_fields():
    """(pid, fields after the command name) of every live process in /proc."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if fields[0] not in (b"Z", b"X"):
            yield int(entry), fields


def group_members(pgid):
    return [pid for pid, fields in _stat_fields() if int(fields[2]) == pgid]


def children(pid):
    return [child for child, fields in _stat_fields() if int(fields[1]) == pid]


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def processes_under(path):
    """Live processes whose cwd or command line mentions path (ours: temp dirs)."""
    path = os.path.realpath(path)
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if (cwd == path or cwd.startswith(path + "/") or path in cmdline) and alive(pid):
            found.append((pid, cmdline.strip()[:160]))
    return found


def listening_ports(ports):
    """Which of ports have a listening TCP socket (IPv4 or IPv6), from /proc/net."""
    wanted = set(int(p) for p in ports if p)
    busy = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                next(handle)
                for line in handle:
                    fields = line.split()
                    if fields[3] != "0A":
                        continue
                    port = int(fields[1].rsplit(":", 1)[1], 16)
                    if port in wanted:
                        busy.add(port)
        except OSError:
            continue
    return sorted(busy)


_transients = []


def take_transients():
    """Processes seen alive right after a teardown returned but gone within a
    second (still exiting), since the last call."""
    with _lock:
        found = list(_transients)
        _transients.clear()
    return found


def _scan(root, pids, ports):
    left = {pid: _describe(pid, cmd) for pid, cmd in processes_under(root)}
    for pid in pids:
        if pid and alive(pid) and pid not in left:
            left[pid] = _describe(pid, _cmdline(pid))
    return left, listening_ports(ports)


def leak_check(root, pids=(), ports=()):
    """(processes left, listening ports left) after a teardown. Anything seen at
    once is looked at again after a second: what is gone by then was still
    exiting when the teardown returned (recorded, see take_transients), what is
    still there is left over."""
    left, busy = _scan(root, pids, ports)
    if not left and not busy:
        return {}, []
    time.sleep(1.0)
    later, busy_later = _scan(root, [p for p in left], ports)
    gone = {pid: cmd for pid, cmd in left.items() if pid not in later}
    with _lock:
        for pid, cmd in gone.items():
            _transients.append(f"pid {pid} ({cmd})")
        for port in busy:
            if port not in busy_later:
                _transients.append(f"port {port} still listening")
    return later, busy_later


def _describe(pid, cmdline):
    if cmdline and cmdline != "?":
        return cmdline
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        name = stat[stat.find(b"(") + 1:stat.rfind(b")")].decode(errors="replace")
        state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3].decode()
        return f"[{name}] state {state}, command line already released (exiting)"
    except OSError:
        return "(gone)"


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()[:160]
    except OSError:
        return "?"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count):
    ports = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def cleanup_all():
    """Runs registered cleanups, then SIGKILLs every recorded group and every
    process still living under a temp root. Safe to call more than once."""
    with _lock:
        cleanups = list(reversed(_cleanups))
        _cleanups.clear()
    for fn in cleanups:
        try:
            fn()
        except Exception as error:  # keep going: the rest must still be cleaned
            print(f"bench: cleanup step failed: {error}", flush=True)
    with _lock:
        groups = list(_groups)
        _groups.clear()
        roots = list(_roots)
    for pgid in groups:
        kill_group(pgid, signal.SIGKILL)
    for root in roots:
        for _ in range(3):
            stragglers = processes_under(root)
            if not stragglers:
                break
            for pid, _cmd in stragglers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)


atexit.register(cleanup_all)


def _on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers():
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
