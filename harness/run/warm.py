"""A pytest process started before its command line is known, so that importing pytest and the run's plugins
(≈ 0.3 s) happens while `hih run` is still reading its options and contracts, not after.

`hih run` starts one at once (`prestart`); the first pytest process of the run is that one when it is still
waiting (`take`), told its command line and log file on its standard input as one JSON line. It then sends its
output to the log, as a process started with the command line would, and runs pytest. A warm process nobody
takes (a usage error, an empty selection) reads end-of-file and exits (`discard`, or the parent's exit). Only
the first process of a run is started warm; the others, and restarted segments, start as before.

    python harness/run/warm.py

It runs as a script, not as `-m harness.run.warm`: pytest rewrites the assertions of hih's modules as it imports
them, which it cannot do for a package imported already, so the warm process imports nothing of hih's before
pytest does.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import shutil
import subprocess
import sys
import tempfile
import types

TYPE_CHECKING = False  # typing, pathlib and json are imported after the warm process is started: see `prestart`
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

WAIT_S = 600.0
"""How long a warm process waits for its command line before it gives up."""
PRELOAD = ("pytest", "_pytest.python", "_pytest.fixtures", "_pytest.junitxml", "_pytest.terminal", "mako.lookup",
           "gherkin.parser", "parse_type", "sqlite3", "ssl", "asyncio",
           "email.message", "http.client")
"""What a run's pytest process imports before its first scenario, less the pytest plugins and hih's own modules:
pytest rewrites the assertions of those as it imports them, which it cannot do for a module imported already."""
WHILE_WAITING = ("httpx", "jsonschema", "httpcore", "time_machine")
"""Imported next, one at a time and only while no command line is waiting: every spec run imports httpx at collection
(the connectors use it), and jsonschema where a contract is checked that did not pass before
(harness.contract.verdicts) or a message breaks its contract (its findings come from jsonschema); httpcore (with h11
and anyio) at the first httpx client, which `import httpx` leaves to it (an insurance scenario's set-up), and
time-machine at a scenario's first held clock (`harness.held_clock`: the restart scenarios of insurance, LIS and PACS).
Timestamped traces of `hih run --interface insurance`: at load ≈ 4 the command line came 0–200 ms after jsonschema
was imported (three runs; the first scenario imported httpcore ≈ 0.8 s later); quiet (load < 1) and busy (≈ 9) it
came before the preload had ended (ten runs), and nothing here was imported. Not uvicorn: the
spec runs' mocks are served by their lean HTTP server (`mocks.transport.lean_http`), and uvicorn is imported only where
a listener is served by it (`mocks.transport.runtime.Runtime.serve_http`, the admin API of `hih mock serve`).
When the command line comes first, each is imported where the run first needs it, if it does: the process never
waits on an import the run would not have made anyway."""

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
"""The checkout (or installed tree) holding harness/, features/ and contracts/. Defined here, a module that imports
nothing of the run's planning, so that `hih run` starts the warm process before it imports and parses anything;
`PROJECT_ROOT` is the same folder as a `pathlib.Path`."""


def __getattr__(name: str) -> Path:
    """`PROJECT_ROOT`, made when first asked for: `hih run` imports this module to start its warm process, and
    pathlib (with typing and re behind it, ≈ 30 M instructions) is imported after that process is started."""
    if name == "PROJECT_ROOT":
        from pathlib import Path

        globals()["PROJECT_ROOT"] = root = Path(ROOT)
        return root
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
LEFT_OUT = ("httpx._main", "mako.ext.pygmentplugin")
"""Modules a spec run's pytest process would import and never use: httpx's command-line client (with rich behind it,
imported by `import httpx` whenever rich and click are installed, as they are with hih) and mako's Pygments
highlighting of template tracebacks (pytest-bdd imports mako for `--generate-missing`). Marked not importable (None
in sys.modules, which the import system documents), each library takes its own fallback: ≈ 30 ms of each process's
start-up."""
_WARM: list[subprocess.Popen[bytes]] = []
HIGHLIGHTING = (("pygments.formatters.terminal", "TerminalFormatter"), ("pygments.lexer", "Lexer"),
                ("pygments.lexers.diff", "DiffLexer"), ("pygments.lexers.python", "PythonLexer"))
"""What pytest's terminal writer (`_pytest._io.terminalwriter`) imports from Pygments when it is imported, to colour
the source of tracebacks and diffs: only where its output has colours (a terminal, PY_COLORS=1), never in a run's
log otherwise. The warm process hands it stand-ins that import the real thing when first called (`highlighting_later`):
Pygments' lexers and formatters are ≈ 35 M instructions (≈ 10 ms of CPU) of each process's start-up."""
WORK_ROOT_ENV = "HIH_WORK_ROOT"
"""A private folder of one pytest process (and its xdist workers) under which each scenario's connector keeps its
work folder (`harness.plugin`), in RAM where it can be (`work_parent`); removed by `release` once the process has ended, so a process ended by a signal
(a cancelled run, a connector stuck past its deadline) leaves nothing behind in the temporary folder."""
_ROOTS: dict[int, str] = {}
RAM_FOLDER = "/dev/shm"
"""Where a run's work roots go when it is a RAM-backed file system (tmpfs) with `RAM_ROOM` free and TMPDIR names no
other folder (`work_parent`). A connector's durable state (an HL7 listener's SQLite store in WAL mode, the blood
bank's, an outbox) is created, committed and removed in every scenario; on a disk each of these waits for the disk
(an `fsync` of the WAL, a journal commit of ext4): a LIS connector took 10–27 ms of wall to build and 2–8 ms to
close on this machine's ext4, 2.6–3.9 ms and 0.6 ms in RAM; a blood centre connector 28–32 ms and 11 ms, 4–9 ms and
0.4 ms. What a scenario tests is unchanged: the files survive the connector's restart and its process's crash (they
are in the kernel's memory, not the process's); only a power cut loses them, which no scenario simulates."""
RAM_ROOM = 256 * 2**20
"""Free bytes a RAM folder must have to hold the work roots: a scenario's folder is a few hundred kB, and at most a
few hundred wait for removal (`harness.work_folders.PENDING`) in each pytest process (a container's default /dev/shm
is 64 MB: not used)."""


def work_parent() -> str | None:
    """The folder a run's work roots are made in: `RAM_FOLDER` when it is a tmpfs with room and TMPDIR is not set
    (a user's TMPDIR is where they want temporary files), else None (the system's temporary folder)."""
    if os.environ.get("TMPDIR"):
        return None
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            tmpfs = any(fields[1] == RAM_FOLDER and fields[2] == "tmpfs"
                        for fields in (line.split() for line in mounts) if len(fields) > 2)
        room = os.statvfs(RAM_FOLDER)
    except OSError:
        return None
    if not tmpfs or room.f_bavail * room.f_frsize < RAM_ROOM or not os.access(RAM_FOLDER, os.W_OK | os.X_OK):
        return None
    return RAM_FOLDER


def child_env() -> dict[str, str]:
    """The environment of a run's pytest processes: the project and the working folder importable (connectors named
    by `module:factory`), no PYTEST_ADDOPTS of the user's that would change the run, and a work root of its own
    (`track` ties it to the process started with this environment)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.getcwd(),
                                                                     os.environ.get("PYTHONPATH")]))}
    env.pop("PYTEST_ADDOPTS", None)
    env.pop(WORK_ROOT_ENV, None)
    with contextlib.suppress(OSError):  # without one, the scenarios' folders go straight into the temporary folder
        env[WORK_ROOT_ENV] = tempfile.mkdtemp(prefix="hih-run-", dir=work_parent())
    return env


def track(process: subprocess.Popen[Any], env: dict[str, str]) -> subprocess.Popen[Any]:
    """Remember the work root of `process`, started with `env` (see `child_env`)."""
    if WORK_ROOT_ENV in env:
        _ROOTS[process.pid] = env[WORK_ROOT_ENV]
    return process


def release(process: subprocess.Popen[Any]) -> None:
    """Remove the work root of a process that has ended (or could not be ended: nothing of it is used any more)."""
    root = _ROOTS.pop(process.pid, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


_EXITING: list[subprocess.Popen[Any]] = []
REAP_S = 5.0


def exiting(process: subprocess.Popen[Any]) -> None:
    """A pytest process that has said its last word and is being taken down by the system: reaped by `reap`."""
    _EXITING.append(process)


def reap() -> None:
    """Wait for the processes handed to `exiting` (killed if one is somehow still there after `REAP_S`)."""
    while _EXITING:
        process = _EXITING.pop()
        try:
            process.wait(REAP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()  # after SIGKILL: the kernel ends it at once


def prestart() -> None:
    """Start a warm process (nothing when one is waiting already or when it cannot be started)."""
    if _WARM:
        return
    try:
        env = child_env()
        _WARM.append(track(subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=os.getcwd(),
                                            env=env, start_new_session=True), env))
    except OSError:
        pass


def take(argv: list[str], log: Path) -> subprocess.Popen[bytes] | None:
    """The warm process, now running pytest with `argv` and writing to `log`; None when there is none left or it
    has died (the caller then starts one with the command line)."""
    while _WARM:
        process = _WARM.pop()
        if process.poll() is not None or process.stdin is None:
            if process.stdin is not None:
                process.stdin.close()
            release(process)
            continue
        try:
            import json

            process.stdin.write(json.dumps({"argv": argv, "log": str(log)}).encode("utf-8") + b"\n")
            process.stdin.close()
        except OSError:  # it died while importing: its exit status is of no interest
            process.kill()
            process.wait()  # after SIGKILL: at once
            release(process)
            with contextlib.suppress(OSError):
                process.stdin.close()
            continue
        return process
    return None


def discard() -> None:
    """End a warm process nobody took (it has run nothing yet); reap the run's exiting pytest processes."""
    reap()
    while _WARM:
        process = _WARM.pop()
        process.kill()
        if process.stdin is not None:
            process.stdin.close()
        process.wait()  # after SIGKILL: at once
        release(process)


def waiting(stream: Any) -> bool:
    """Whether `stream` has something to read now (the command line, or end-of-file when nobody needs the process)."""
    ready, _, _ = select.select([stream], [], [], 0)
    return bool(ready)


def leave_out() -> None:
    """Keep the modules of `LEFT_OUT` from being imported in this process (those imported already stay)."""
    for name in LEFT_OUT:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not importable" mark


def line_buffered_log() -> None:
    """pytest's output (its log file) written a line at a time, also where PYTHONUNBUFFERED asks for every write at
    once: pytest writes a progress character per scenario, and each unbuffered write is a system call during which
    the interpreter lock goes to another thread (the mock's server, the report thread), which the scenarios then
    wait for (up to the 5 ms switch interval each time). A line, a failure's text, is in the log as soon as it ends;
    the session's end flushes the rest (harness.run.collector.QuickExit, or the interpreter's own exit)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(write_through=False, line_buffering=True)


def write_to(log: str) -> None:
    """This process's output to the run's log file and nothing on its input, as a process started with its command
    line and log has them."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    line_buffered_log()


def _stand_in(module: str, name: str) -> type:
    """A class standing for `module.name`: instantiating it imports the real one and returns an instance of that."""

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return type(name, (), {"__new__": __new__, "__module__": module,
                           "__doc__": f"Stands for {module}.{name} until first used (harness.run.warm)."})


def _package_later(package: str) -> types.ModuleType:
    """A module standing for `package`: any attribute read imports the real package (or its submodule of that name)."""
    stand_in = types.ModuleType(package, f"Stands for {package} until first used (harness.run.warm).")

    def __getattr__(attribute: str) -> Any:
        import importlib

        real = importlib.import_module(package)
        if not hasattr(real, attribute):
            with contextlib.suppress(ImportError):
                importlib.import_module(f"{package}.{attribute}")
        return getattr(real, attribute)

    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]  # a module's own __getattr__ (PEP 562)
    return stand_in


@contextlib.contextmanager
def highlighting_later() -> Iterator[None]:
    """While inside, an import of Pygments' modules named in `HIGHLIGHTING` binds stand-ins (the real ones are
    imported when first used); on leaving, the stand-ins leave sys.modules, so that any later import of Pygments,
    by whatever module, gets the real package. Nothing is done when Pygments is imported already."""
    names = ["pygments", *(module for module, _ in HIGHLIGHTING)]
    if any(name in sys.modules for name in names):
        yield
        return
    stand_ins: dict[str, types.ModuleType] = {"pygments": _package_later("pygments")}
    for module, name in HIGHLIGHTING:
        stand_ins[module] = types.ModuleType(module, f"Stands for {module} until first used (harness.run.warm).")
        setattr(stand_ins[module], name, _stand_in(module, name))
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def _import(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001 - what cannot be imported now fails in pytest, which says so in the log
        pass


def main() -> int:
    # No cyclic garbage collection until the scenarios are collected (harness.run.collector turns it back on, with
    # what the imports made frozen out of its walks): start-up makes tens of thousands of long-lived objects and
    # little garbage, and each collection would walk them all again.
    gc.disable()
    sys.path[0] = os.getcwd()  # as `python -m pytest` has it, not this script's folder
    leave_out()
    with highlighting_later():  # pytest's terminal writer, the only importer of Pygments at pytest's import
        _import("_pytest._io.terminalwriter")
    for name in PRELOAD:
        _import(name)
    for name in WHILE_WAITING:
        if waiting(sys.stdin):
            break
        _import(name)
    ready, _, _ = select.select([sys.stdin], [], [], WAIT_S)
    line = sys.stdin.buffer.readline() if ready else b""
    if not line:
        return 0  # not needed, or the parent is gone
    import json

    order = json.loads(line)
    write_to(order["log"])
    import pytest

    return int(pytest.main(order["argv"]))


if __name__ == "__main__":
    sys.exit(main())
