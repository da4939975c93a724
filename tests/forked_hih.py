"""`hih` server commands of the tests (`hih mock serve`, `hih proxy`) forked from a process that has imported hih's
command line and its servers, instead of each started afresh: the interpreter's start and those imports are most of
what such a process costs before its banner (≈ 0.4 s of CPU of 0.6 s for the insurance mock; bench/RESULTS.md), paid
by every server a test starts.

The forks come from the standard library's fork server (`multiprocessing`'s `forkserver` start method, its modules
named by `PRELOAD`), one per test process, started at its first order. What a test sees stays a real process: its own
pid and a session of its own (`os.setsid`, so `killpg` on its pid ends its group, as with `start_new_session`), its
exit status (a signal's as minus the signal's number, as `subprocess` gives it), the environment, working folder and
command line the test gives it, and its standard output and error on pipes the test reads (handed over beside the
process object, as multiprocessing hands over its own descriptors), its standard input empty. Each child takes fresh
standard streams on those descriptors, as a new interpreter makes them (block-buffered output on a pipe), forgets the
temporary folder the imports may have looked up, runs the site customisation of its import path as a start does, and
runs what the `hih` script runs (`harness.launch.entry`).

The forked processes are the fork server's children, which it waits for: the test process's count of its children's
CPU sees them, with the server's own, only once the server has ended; `cpu_s` reads them from the server as it runs.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import os
import select
import subprocess
import sys
import tempfile
import threading
from multiprocessing import reduction
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import Any, TextIO

PRELOAD = ["tests.forked_hih_imports"]
"""What the fork server imports before it forks: one module, which imports the servers' (its `MODULES`); the fork
server's command line names it, not them, so that a test looking for hih's modules among its process's children
(`mocks.workers`) does not take the fork server for one."""
ENCODING = "utf-8"
STARTED_S = 60.0
"""The most a new child is waited for to take signals as a fresh process (milliseconds, unless the machine is
stalled: past it, the test goes on as it did before the wait)."""
_LOCK = threading.Lock()


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    assert isinstance(context, ForkServerContext)
    context.set_forkserver_preload(PRELOAD)
    return context


class _Fd:
    """A descriptor of the test process, duplicated into the forked child (multiprocessing's `DupFd`, which the
    fork server's start hands over with the process object); the child sees its number there."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return _detach, (reduction.DupFd(self.fd),)


def _detach(duplicated: Any) -> int:
    return int(duplicated.detach())


def _stream(fd: int, mode: str, env: dict[str, str], **options: Any) -> TextIO:
    """A standard stream on `fd`, as a new interpreter started with `env` makes it (PYTHONUNBUFFERED: written
    through, unbuffered)."""
    unbuffered = mode == "w" and bool(env.get("PYTHONUNBUFFERED"))
    binary = open(fd, f"{mode}b", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115 - the process's
    return io.TextIOWrapper(binary, encoding=env.get("PYTHONIOENCODING") or ENCODING,
                            write_through=unbuffered, **options)


def _become_hih(argv: list[str], env: dict[str, str], cwd: str, fds: tuple[int, int, int], path: list[str],
                started: int) -> None:
    """In the forked child: the `hih` command `argv`, as a process started with that command line would run it. It
    first closes `started`, which tells the test process that it takes signals as a fresh process would."""
    from mocks.stop_signals import note_interrupts

    note_interrupts()  # as harness.launch does for a server: what follows stands for a fresh interpreter's start
    os.close(started)
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = _stream(0, "r", env)
    sys.stdout = _stream(1, "w", env)
    sys.stderr = _stream(2, "w", env, errors="backslashreplace", line_buffering=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None
    sys.argv = [str(Path(sys.executable).with_name("hih")), *argv]
    sys.orig_argv = [sys.executable, *sys.argv]  # the command a fresh start would have run
    sys.path[:] = path
    # the site customisation of the import path, run as at a start (the fork server ran it at its own, with its own
    # command line and environment)
    with contextlib.suppress(ImportError):
        site = sys.modules.get("sitecustomize")
        importlib.reload(site) if site is not None else importlib.import_module("sitecustomize")
    from harness.launch import entry

    entry()


def _fresh_path(env: dict[str, str]) -> list[str]:
    """The import path of a `hih` process started with `env`: the script's folder, PYTHONPATH, then the
    interpreter's own (read from a bare interpreter once per PYTHONPATH)."""
    return [str(Path(sys.executable).parent), *_paths(env.get("PYTHONPATH", ""))]


_PATHS: dict[str, list[str]] = {}


def _paths(pythonpath: str) -> list[str]:
    with _LOCK:
        if pythonpath not in _PATHS:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            done = subprocess.run([sys.executable, "-c", "import sys; print('\\n'.join(sys.path[1:]))"], env=env,
                                  capture_output=True, text=True, timeout=60, check=True)
            _PATHS[pythonpath] = done.stdout.splitlines()
        return _PATHS[pythonpath]


class ForkedHih:
    """`hih ARGV` forked from the fork server, with the parts of `subprocess.Popen` that tests/served.py uses: `pid`,
    `args`, `stdout` and `stderr` (text, read by the test), `returncode`, `poll`, `wait`, `send_signal`."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args = [str(Path(sys.executable).with_name("hih")), *argv]
        self.returncode: int | None = None
        self.stdin = None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        started_r, started_w = os.pipe()
        empty = os.open(os.devnull, os.O_RDONLY)
        try:
            self._process = _context().Process(
                target=_become_hih, args=(argv, env, str(cwd), (_Fd(empty), _Fd(out_w), _Fd(err_w)),
                                          _fresh_path(env), _Fd(started_w)), name=f"hih {' '.join(argv[:2])}",
                # daemonic: should a test leave one running, the test process ends it at its exit, not waits for it
                daemon=True)
            self._process.start()
            os.close(started_w)
            started_w = -1
            # Until the child runs `_become_hih` it has the fork server's handlers, SIGINT ignored: a test's Ctrl-C
            # sent to it then would be lost, and the server would go on to serve until ended past its grace (4 early
            # stops in 10 under load). Its end of the pipe closed (at its start, or its death), it takes them.
            select.select([started_r], [], [], STARTED_S)
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            raise
        finally:
            for fd in (empty, out_w, err_w, started_r, started_w):
                if fd >= 0:
                    os.close(fd)
        assert self._process.pid is not None
        self.pid: int = self._process.pid
        self.stdout: TextIO = open(out_r, encoding=ENCODING)  # noqa: SIM115 - closed by served.started
        self.stderr: TextIO = open(err_r, encoding=ENCODING)  # noqa: SIM115

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._process.exitcode
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.poll() is None:
            assert timeout is not None
            raise subprocess.TimeoutExpired(self.args, timeout)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)


def cpu_s() -> float:
    """CPU seconds of the fork server so far and of the processes it forked that have ended (it waits for them), read
    from /proc while it runs (bench/test_cpu.py adds them to the test's)."""
    from multiprocessing import forkserver

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None:
        return 0.0
    try:  # utime, stime, cutime, cstime: the 14th to 17th fields, after the command's name in parentheses
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):  # ended: the test process's own count of its children has it
        return 0.0
