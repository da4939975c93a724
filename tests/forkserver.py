"""The pytest processes of the suite's in-process `hih run`s, forked from one pre-imported process per test process
instead of each started afresh: most of what such a process costs before its first scenario is the interpreter's
start and the import of pytest and the libraries every spec run uses (≈ 1 s of CPU, paid by every run and every
lane of a run; bench/RESULTS.md). The tests still see real processes: their own pid and process group, the exit
status they end with (a signal's too), their log, their events and reports, their deadline and cancel handling.

The server (this file run as a script, with the socket's path) imports what a run's warm pytest process imports
while it waits for its command line (`harness.run.warm.PRELOAD` and `WHILE_WAITING`, read from warm.py as it runs,
as a script, before anything of hih's is imported: pytest rewrites the assertions of hih's modules as it imports
them), and nothing else, so a child holds no module a run would not have. For each order it forks a minder, which
forks the pytest process and reports its pid, then its exit status and CPU time, on the order's connection. The
child takes the order's environment, working folder and import path, a session of its own (hih stops a run's
pytest group with `killpg`), and then does what warm.py does with a command line. Its `--hih-parent-pid` names the
minder, its parent: the minder dies with the server (PR_SET_PDEATHSIG), the server with the test process (end of
its standard input), and the pytest process stops its group when its parent is gone, as under `hih run`.

The server forks only from its main thread and starts none. Its children reseed `random` (the interpreter does at
each fork) and forget the temporary folder the server's imports may have looked up (`tempfile.tempdir`).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WARM = ROOT / "harness" / "run" / "warm.py"
READY_S = 120.0
"""How long a test waits for the server to fork a process (its first order waits for its imports)."""
IDLE_S = 1.0
"""How often the server looks for minders to reap while no order comes."""
MAX_LINE = 1 << 20
"""The largest order or answer read (an order is a command line and an environment)."""
_PR_SET_PDEATHSIG = 1


# -- the server's side -----------------------------------------------------------------------------------------------
def _warm_script() -> Any:
    """harness/run/warm.py, loaded as the script it is (it imports nothing of hih's)."""
    spec = importlib.util.spec_from_file_location("hih_warm_script", WARM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _die_with_parent(sig: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _read_line(conn: socket.socket, timeout: float) -> dict[str, Any] | None:
    conn.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n") and len(data) < MAX_LINE:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    return dict(json.loads(data)) if data.endswith(b"\n") else None


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the test process is gone: nobody to tell
        conn.sendall(json.dumps(message).encode("utf-8") + b"\n")


def _become_pytest(order: dict[str, Any], warm: Any, minder: int) -> int:
    """In the forked child: take the order's place and run pytest as warm.py runs it. `minder` is the pid of the
    process that forked it, taken before the fork: should the minder die before this child reads its parent, the
    child must still see itself orphaned."""
    os.setsid()
    os.chdir(order["cwd"])
    os.environ.clear()
    os.environ.update(order["env"])
    tempfile.tempdir = None
    sys.argv = [sys.executable]
    sys.orig_argv = [sys.executable, "-m", "pytest", *order["argv"]]  # the command `hih run` would have started
    extra = [p for p in order["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = [order["cwd"], *extra, *[p for p in sys.path[1:] if p not in extra]]
    argv = list(order["argv"])
    if "--hih-parent-pid" in argv:  # the minder is this process's parent, and stands in for the test process
        argv[argv.index("--hih-parent-pid") + 1] = str(minder)
    warm.write_to(order["log"])
    if "sitecustomize" not in sys.modules:  # the site customisation of the order's import path, as at a start
        with contextlib.suppress(ImportError):
            importlib.import_module("sitecustomize")
    import pytest

    return int(pytest.main(argv))


def _mind(conn: socket.socket, order: dict[str, Any], warm: Any, server: int) -> None:
    """In the minder: fork the pytest process, tell its pid, wait for it, tell its exit status and CPU seconds."""
    _die_with_parent(signal.SIGKILL)
    if os.getppid() != server:  # the server died before the line above: no signal will come
        os._exit(1)
    minder = os.getpid()
    pid = os.fork()
    if pid == 0:
        conn.close()
        code = 70  # EX_SOFTWARE, should the child fail before pytest says anything
        try:
            code = _become_pytest(order, warm, minder)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        finally:
            # a fresh process's end: the exit functions, then the streams, then the exit itself
            import atexit

            with contextlib.suppress(Exception):
                atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    _send(conn, {"pid": pid, "server_cpu_s": order["server_cpu_s"]})
    _, status, usage = os.wait4(pid, 0)
    own = os.times()
    _send(conn, {"code": os.waitstatus_to_exitcode(status),
                 "cpu_s": usage.ru_utime + usage.ru_stime + own.user + own.system})


def serve(path: str) -> int:
    """Listen on `path`, import, then fork a minder for each order until the standard input ends."""
    import gc

    # No parent-death signal here: it comes when the thread that started the server ends, which may be any of the
    # test process's threads. The end of the standard input is the test process's end.
    gc.disable()  # as in warm.py: the child's collector turns it back on once the scenarios are collected
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    warm = _warm_script()
    warm.leave_out()
    for name in (*warm.PRELOAD, *warm.WHILE_WAITING):
        warm._import(name)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        ready, _, _ = select.select([listener, sys.stdin], [], [], IDLE_S)
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            return 0  # the test process is done, or gone
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        try:
            order = _read_line(conn, READY_S)
        except (OSError, ValueError):
            order = None
        if order is not None:
            times = os.times()
            order["server_cpu_s"] = times.user + times.system
            server = os.getpid()
            if os.fork() == 0:
                listener.close()
                try:
                    _mind(conn, order, warm, server)
                finally:
                    os._exit(0)
        conn.close()


# -- the test process's side ----------------------------------------------------------------------------------------
class Forked(subprocess.Popen[bytes]):
    """A pytest process forked by the server, handled as the `subprocess.Popen` that `hih run` keeps of its pytest
    processes: pid, poll, wait, kill, signals. Its exit status comes from its minder."""

    def __init__(self, conn: socket.socket, pid: int, args: list[str], server: ForkServer) -> None:
        # no Popen.__init__: nothing to start, the process is there
        self.args, self.pid, self.returncode = args, pid, None
        self.stdin = self.stdout = self.stderr = None
        self._child_created = False  # Popen.__del__ has nothing to reap
        self._conn, self._server = conn, server

    def _answer(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        ready, _, _ = select.select([self._conn], [], [], timeout)
        if not ready:
            return None
        try:
            answer = _read_line(self._conn, 5.0)
        except (OSError, ValueError):
            answer = None
        self._conn.close()
        if answer is None:  # the minder died: the process is not known to have ended well
            self.returncode = -signal.SIGKILL
        else:
            self.returncode = int(answer["code"])
            self._server.count(float(answer["cpu_s"]))
        return self.returncode

    def poll(self) -> int | None:
        return self._answer(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._answer(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


SERVERS: list[ForkServer] = []


def cpu_s() -> float:
    """CPU seconds of this test process's fork servers and of the processes they forked that have ended: a test
    process's own count of its children's CPU (resource.RUSAGE_CHILDREN) sees none of them until the server ends."""
    return sum(server.cpu_s for server in SERVERS)


@dataclass
class ForkServer:
    """One server per test process, started at its first order; `close` ends it."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None
    children_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of the forked processes that have ended and of the server so far (bench/test_cpu.py)."""
        return self.children_cpu_s + self.server_cpu_s

    def __post_init__(self) -> None:
        SERVERS.append(self)

    def count(self, cpu_s: float) -> None:
        self.children_cpu_s += cpu_s

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "s"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        self.process = subprocess.Popen([sys.executable, __file__, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)

    def fork(self, argv: list[str], log: Path, env: dict[str, str]) -> Forked:
        """A pytest process running `argv` (pytest's arguments) with `env`, from the current working folder."""
        with self._lock:
            if self.process is None or self.process.poll() is not None:
                self._settle()
                self._start()
        order = {"argv": argv, "log": str(log), "env": env, "cwd": os.getcwd()}
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path, deadline = str(self.folder / "s"), READY_S
        while True:  # the socket appears once the server has started
            try:
                conn.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if deadline <= 0 or (self.process is not None and self.process.poll() is not None):
                    raise
                select.select([], [], [], 0.01)
                deadline -= 0.01
        conn.sendall(json.dumps(order).encode("utf-8") + b"\n")
        answer = _read_line(conn, READY_S)
        if answer is None:
            raise RuntimeError("the fork server did not start the pytest process")
        self.server_cpu_s = max(self.server_cpu_s, float(answer["server_cpu_s"]))
        return Forked(conn, int(answer["pid"]), argv, self)

    def _settle(self) -> None:
        """A server that has been waited for: its CPU and its children's are the test process's children's now."""
        self.children_cpu_s = self.server_cpu_s = 0.0
        self.process = None

    def close(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._settle()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
