"""The pytest processes of the suite's in-process `hih run`s, forked from pre-imported processes (a few per test
process, one per family of runs) instead of each started afresh: most of what such a process costs before its first
scenario is the interpreter's start and the import of pytest and the libraries every spec run uses (≈ 1 s of CPU,
paid by every run and every lane of a run; bench/RESULTS.md). The tests still see real processes: their own pid and
process group, the exit status they end with (a signal's too), their log, their events and reports, their deadline
and cancel handling.
Tests that start a run's pytest process by its command line to read what it reports, not to see how it starts,
fork it the same way (`ForkServer.run`).

A server (this file run as a script, with the socket's path) imports what a run's warm pytest process imports while
it waits for its command line (`harness.run.warm.PRELOAD` and `WHILE_WAITING`, read from warm.py as it runs, as a
script, before anything of hih's is imported: pytest rewrites the assertions of hih's modules as it imports them),
then what its family adds (below), so that a child holds no module a run would not have. For each order it forks a
minder, which forks the pytest process and reports its pid, then its exit status and CPU time, on the order's
connection. The child takes the order's environment, working folder and import path, a session of its own (hih stops
a run's pytest group with `killpg`), and then does what warm.py does with a command line. Its `--hih-parent-pid`
names the minder, its parent: the minder dies with the server (PR_SET_PDEATHSIG), the server with the test process
(end of its standard input), and the pytest process stops its group when its parent is gone, as under `hih run`.

The server forks only from its main thread and starts none. Its children reseed `random` (the interpreter does at
each fork) and forget the temporary folder the server's imports may have looked up (`tempfile.tempdir`).

A test process keeps one server per family of orders (`family_of`), each started at its family's first order: the
`plain` one as a process of its own, `run` forked from it and every other family forked from `run` (a `spawn` order),
each importing only what it adds to the server it comes from. A spawned server dies with the one it came from
(PR_SET_PDEATHSIG), ends at the same end of its standard input, and is waited for by it. The families:
- `plain`: an order that is not a run's pytest process (this file's own tests): what is said above, nothing more.
- `run`: a run of no interface named, or of one no family knows. Beside the above, hih's own modules that every run's pytest
  process imports. pytest rewrites the assertions of its plugins (the `-p` names of the run's command line, marked for
  rewriting as they are imported; with `--disable-plugin-autoload`, no entry point's package is) and of test modules:
  the server starts pytest's configuration as the run's command line does, up to its plugins (`_prepareconfig`,
  without conftest files, the order's paths or its per-run options), so that those modules come through pytest's own
  `AssertionRewritingHook`, then ends that configuration (its hook leaves `sys.meta_path`). A child's pytest then
  marks them again and finds them imported by a hook of its own type: no PytestAssertRewriteWarning, and the
  rewritten code reports through the child's configuration (`_pytest.assertion.util`), as a fresh process does. The
  modules a run imports later, unrewritten (contracts, the mocks' transport), are imported next, in the order a run
  imports them.
- one family per kind of interface, for a run of one interface: `soap` (blood centre, maternal-child platform: lxml,
  zeep and the SOAP contract and transport), `hl7` (LIS, PACS: the HL7 contract, MLLP and hl7apy, with hl7apy's
  modules of the versions the contract accepts: one server per set of versions), `insurance` (its mock and the lean
  HTTP server). Each imports what every run of each of its interfaces imports, not the modules of one interface's
  mock alone, nor what the feature files or the connector bring (they are the run's to choose).
- for a run of several interfaces in one pytest process (a lane of several, the planted-defect rounds), one family
  per set of kinds: the union of their modules, every module once, in the order of the kinds' names, and of their
  HL7 versions (`hl7@2.4@2.5.1+insurance+soap`): such a run imports what a run of each of its interfaces does.
An order whose working folder or import path would find another `harness` or `mocks` than this checkout's goes to the
`plain` server. There are at most `MAX_SERVERS` per test process; an order of a family beyond them goes to `run`
(`ForkServer.make_room` ends idle servers of other families, for tests that look at where an order goes).
`tests/test_forkserver_families.py` holds each family to what a fresh run of its interfaces imports.
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
GONE_S = 10.0
"""How long `Forked.poll` waits for the minder's word on a process that has exited (the minder may be descheduled
on a loaded machine)."""
MAX_LINE = 1 << 20
"""The largest order or answer read (an order is a command line and an environment)."""
MAX_SERVERS = 10
"""The most servers one test process keeps (`plain` and `run` always have their place): room for every family of
one interface the shipped contracts make (`soap`, `insurance` and three sets of HL7 versions), and for three sets of
several (a worker's share of the planted-defect rounds makes two or three)."""
_PR_SET_PDEATHSIG = 1

RUN_MODULES = (
    "harness.work_folders", "harness.contract.interfaces", "harness.contract.model", "harness.bindings",
    "harness.config_tables", "harness.insurance_regions", "harness.config", "harness.contract.verdicts",
    "harness.contract.findings", "harness.contract.clock", "harness.contract.errors", "harness.contract.source",
    "harness.contract.sla", "harness.contract.versions", "harness.contract.loader", "harness.properties",
    "harness.report.formats", "harness.report.masking", "harness.plugin_masking", "harness.run.report_thread",
    "harness.slot", "harness.run.exits", "harness.contract.hl7.escape", "harness.contract.hl7.message",
    "harness.ports", "mocks", "harness.contract.refused", "harness.contract.jsonsafe", "mocks.state",
    "mocks.transport.faults", "mocks.transport.journal", "mocks.transport.limits", "mocks.transport.origin",
    "harness.eventloop", "uvloop", "concurrent.futures.thread", "mocks.transport.bounded_http",
    "mocks.transport.busy_poll", "mocks.transport.runtime", "mocks.transport.refusal", "mocks.base", "mocks.registry",
    "harness.contract.json_schemas", "harness.contract.rules", "harness.contract.http_json", "harness.contract.codec",
    "mocks.clock_checks", "mocks.shared_state")
"""hih's modules that every run's pytest process imports beside its plugins (not rewritten), and the event loop its
mocks run on, in the order a run imports them (tests/test_forkserver_families.py fails on one a run does not
import)."""
FAMILY_MODULES = {
    "soap": ("harness.contract.xmlsafe", "harness.contract.soap_wsdl", "zeep", "zeep.transports", "zeep.wsdl",
             "zeep.wsdl.bindings", "harness.contract.validate", "harness.contract.soap",
             "harness.contract.soap_validate", "mocks.transport.http", "mocks.transport.soap_decode",
             "mocks.transport.soap_encode", "mocks.transport.soap_reply", "mocks.transport.soap",
             "mocks.shared_checked", "mocks.transport.lean_http"),
    "hl7": ("harness.contract.hl7.charsets", "harness.contract.hl7.ack_mode", "harness.contract.hl7.mllp",
            "harness.contract.hl7.batch", "harness.contract.hl7.datatypes", "harness.contract.hl7.profile",
            "harness.contract.hl7.standard", "harness.contract.hl7.segment_regex", "harness.contract.hl7.validator",
            "harness.contract.hl7.contract", "harness.contract.hl7.ack", "harness.contract.hl7.mllp_ack",
            "harness.contract.hl7.mllp_client", "mocks.hl7_clock", "mocks.shared_logs", "mocks.lazy_logs",
            "mocks.transport.mllp", "mocks.hl7_partner", "harness.contract.hl7.mllp_listener", "hl7apy.core",
            "hl7apy.parser", "hl7apy.validation", "hl7apy.base_datatypes"),
    "insurance": ("harness.contract.signing", "mocks.fen", "harness.contract.identifiers", "mocks.population",
                  "mocks.insurance_checks", "mocks.shared_logs", "mocks.insurance_store", "mocks.transport.http",
                  "mocks.insurance", "mocks.transport.lean_http"),
}
"""What a family's server imports after `RUN_MODULES`: what every run of each of its interfaces imports and a run of
another family does not (zeep's modules are imported where a WSDL is first read, hl7apy's where a message is first
parsed), in a run's order."""
FAMILY_OF = {"blood-center": "soap", "mch-platform": "soap", "lis": "hl7", "pacs": "hl7", "insurance": "insurance"}
HIH_PACKAGES = ("harness", "mocks")
"""The packages of this checkout that a `run` server and its families import ahead."""


@dataclass(frozen=True)
class Family:
    """What one server imports before it forks: `pytest_args`, a run's options up to its plugins (pytest imports
    those through its rewriting hook), then `modules`, with `path` ahead of the server's import path."""

    name: str
    pytest_args: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    path: tuple[str, ...] = ()

    def spec(self) -> str:
        return json.dumps({"name": self.name, "pytest_args": list(self.pytest_args), "modules": list(self.modules),
                           "path": list(self.path)})


PLAIN = Family("plain")


# -- the server's side -----------------------------------------------------------------------------------------------
def _warm_script() -> Any:
    """harness/run/warm.py, loaded as the script it is (it imports nothing of hih's)."""
    spec = importlib.util.spec_from_file_location("hih_warm_script", WARM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import_plugins(args: list[str]) -> None:
    """pytest's configuration of a run's command line, as far as its plugins: pytest marks each `-p` name for
    rewriting and imports it through its `AssertionRewritingHook`. Without conftest files (none read, the order's
    paths are not here) and output capture; ended at once, which takes the hook out of `sys.meta_path`."""
    from _pytest.config import _prepareconfig

    with contextlib.suppress(Exception):  # what fails here fails in the child's pytest, which says so in its log
        _prepareconfig([*args, "--noconftest", "--capture=no"])._ensure_unconfigure()


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
    sys.path[:] = [order["cwd"], *extra, *[p for p in sys.path if p not in extra]]
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


def _listen(path: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    return listener


_TAKEN: dict[str, Any] = {"pytest_args": [], "modules": []}
"""What this server has imported of its family (`_take_on`): a server spawned from it imports only what it adds."""


def _take_on(family: dict[str, Any], warm: Any) -> None:
    """Import what `family` adds to what this server holds: its import path first, then its plugins through pytest's
    configuration (`_import_plugins`), then its modules."""
    sys.path[0:0] = [entry for entry in family["path"] if entry not in sys.path]
    if family["pytest_args"] and family["pytest_args"] != _TAKEN["pytest_args"]:
        _import_plugins(family["pytest_args"])
    for name in family["modules"]:
        if name not in _TAKEN["modules"]:
            warm._import(name)
    _TAKEN.update(pytest_args=family["pytest_args"], modules=family["modules"])


def _wait_for(pids: list[int]) -> None:
    """Wait for the servers spawned from this one (each ends at the same end of its standard input): their CPU
    then counts among this server's children, and the test process's."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            for _ in range(int(10 / 0.05)):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                select.select([], [], [], 0.05)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def serve(path: str, spec: str) -> int:
    """Listen on `path`, import what the family `spec` names (`Family.spec`), then fork a minder for each order, or
    a server of a family that adds to this one's for each `spawn` order, until the standard input ends."""
    import gc

    # No parent-death signal here: it comes when the thread that started the server ends, which may be any of the
    # test process's threads. The end of the standard input is the test process's end.
    gc.disable()  # as in warm.py: the child's collector turns it back on once the scenarios are collected
    listener = _listen(path)
    warm = _warm_script()
    warm.leave_out()
    for name in (*warm.PRELOAD, *warm.WHILE_WAITING):
        warm._import(name)
    del sys.path[0]  # this script's folder (tests/, whose `mocks` is not hih's): no child's import path has it
    _take_on(json.loads(spec), warm)
    spawned: list[int] = []
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        ready, _, _ = select.select([listener, sys.stdin], [], [], IDLE_S)
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
            _wait_for(spawned)
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
            pid = os.fork()
            if pid == 0 and "spawn" in order:  # a server of its own, from what this one has imported
                listener.close()
                conn.close()
                _die_with_parent(signal.SIGKILL)
                if os.getppid() != server:
                    os._exit(1)
                listener, spawned = _listen(order["path"]), []
                _take_on(order["spawn"], warm)
                continue
            if pid == 0:
                listener.close()
                try:
                    _mind(conn, order, warm, server)
                finally:
                    os._exit(0)
            if "spawn" in order:
                spawned.append(pid)
                _send(conn, {"pid": pid, "server_cpu_s": order["server_cpu_s"]})
        conn.close()


# -- the test process's side ----------------------------------------------------------------------------------------
class Forked(subprocess.Popen[bytes]):
    """A pytest process forked by the server, handled as the `subprocess.Popen` that `hih run` keeps of its pytest
    processes: pid, poll, wait, kill, signals. Its exit status comes from its minder."""

    def __init__(self, conn: socket.socket, pid: int, args: list[str], server: Server) -> None:
        # no Popen.__init__: nothing to start, the process is there
        self.args, self.pid, self.returncode = args, pid, None
        self.stdin = self.stdout = self.stderr = None
        self._child_created = False  # Popen.__del__ has nothing to reap
        self._conn, self._server = conn, server

    def __del__(self) -> None:
        # one nobody waited for to the end (a run given up on): its minder's connection goes with it, not left to
        # the collector, whose ResourceWarning fails whichever test it happens in
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

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
        """The exit status once the process has exited, as `Popen.poll` gives it: a process already gone (seen
        through a pidfd, as `hih run` watches its lanes) waits for its minder's word, which follows at once."""
        code = self._answer(0)
        if code is None and self._gone():
            code = self._answer(GONE_S)
        return code

    def _gone(self) -> bool:
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return True
        return state in ("Z", "X")

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


def _busy(pid: int) -> bool:
    """Whether the server `pid` has a child that has not exited (a minder, and so a forked process, at work)."""
    try:
        kids = [kid for task in Path(f"/proc/{pid}/task").iterdir()
                for kid in (task / "children").read_text(encoding="ascii").split()]
    except OSError:
        return False
    for kid in kids:
        try:
            state = Path(f"/proc/{kid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            return True
    return False


def cpu_s() -> float:
    """CPU seconds of this test process's fork servers and of the processes they forked that have ended: a test
    process's own count of its children's CPU (resource.RUSAGE_CHILDREN) sees none of them until the server ends."""
    return sum(server.cpu_s for server in SERVERS)


def _option(argv: list[str], name: str) -> list[str]:
    """The values of `name VALUE` in `argv`."""
    return [value for option, value in zip(argv, argv[1:], strict=False) if option == name]


def _run_args(argv: list[str]) -> tuple[str, ...]:
    """The options of a run's command line that every run's pytest process starts with, up to its plugins: the ini
    file, the root, no autoload, the blocked plugins and the plugins every run names (harness.run.child)."""
    from harness.run.child import PLUGINS

    every = {*PLUGINS, "harness.run.collector", "harness.run.deadline"}
    out: list[str] = []
    for option, value in zip(argv, [*argv[1:], ""], strict=True):
        if option in ("-c", "--rootdir") or (option == "-p" and (value.startswith("no:") or value in every)):
            out += [option, value]
        elif option == "--disable-plugin-autoload":
            out.append(option)
    return tuple(out)


def _shadowed(env: dict[str, str], cwd: str) -> bool:
    """Whether the order's process would find a `harness` or `mocks` of its own before this checkout's, or would not
    find this checkout's."""
    for entry in [cwd, *env.get("PYTHONPATH", "").split(os.pathsep)]:
        if not entry:
            continue
        if Path(entry).resolve() == ROOT:
            return False
        if any((Path(entry) / name).exists() or (Path(entry) / f"{name}.py").exists() for name in HIH_PACKAGES):
            return True
    return True  # this checkout is not on its import path at all


def _hl7_versions(argv: list[str], env: dict[str, str], name: str, version: str) -> tuple[str, ...]:
    """The HL7 versions the run's contract accepts (contract.yaml `hl7.versions`), as hl7apy names its modules;
    none when the contract cannot be read (the run says why)."""
    from harness.contract.hl7.standard import VERSIONS
    from harness.contract.source import load_source

    folders = _option(argv, "--hih-contracts-dir")
    root = Path(folders[-1]) if folders else Path(env.get("HIH_CONTRACTS") or ROOT / "contracts")
    try:
        data = load_source(root / name / version / "contract.yaml").data
        versions = [str(v) for v in data["hl7"]["versions"]]
    except Exception:  # noqa: BLE001 - any unreadable contract: the run's own process reports it
        return ()
    return tuple(sorted({v for v in versions if v in VERSIONS}))


def family_of(argv: list[str], env: dict[str, str], cwd: str) -> Family:
    """The family of servers an order goes to (the module docstring says which)."""
    if "--hih-events" not in argv or _shadowed(env, cwd):
        return PLAIN
    contracts = [value.partition("=") for value in _option(argv, "--hih-contract")]
    run = Family("run", _run_args(argv), RUN_MODULES, (str(ROOT),))
    kinds = sorted({FAMILY_OF.get(name) or "" for name, _, _ in contracts})
    if not kinds or "" in kinds:
        return run
    modules = list(run.modules)
    names = []
    for kind in kinds:
        modules += [name for name in FAMILY_MODULES[kind] if name not in modules]
        if kind == "hl7":
            versions = sorted({v for name, _, version in contracts if FAMILY_OF[name] == "hl7"
                               for v in _hl7_versions(argv, env, name, version)})
            modules += [f"hl7apy.v{v.replace('.', '_')}" for v in versions]
            kind = "@".join(["hl7", *versions])
        names.append(kind)
    return Family("+".join(names), run.pytest_args, tuple(modules), run.path)


@dataclass
class Server:
    """One server process of a family, started at its family's first order: the `plain` one as a process of its
    own, every other spawned from the server of its `parent` family (it adds to what that one has imported)."""

    folder: Path
    family: Family
    parent: Server | None = None
    process: subprocess.Popen[bytes] | None = None
    """The `plain` server's process (the others are not the test process's children)."""
    pid: int | None = None
    children_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of the forked processes that have ended and of the server so far (bench/test_cpu.py)."""
        return self.children_cpu_s + self.server_cpu_s

    def count(self, cpu_s: float) -> None:
        self.children_cpu_s += cpu_s

    @property
    def path(self) -> Path:
        return self.folder / "s"

    def _running(self) -> bool:
        if self.parent is None:
            return self.process is not None and self.process.poll() is None
        try:  # not this process's child: alive until its parent server has reaped it
            state = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")

    def _start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.parent is not None:
            self.pid = self.parent.spawn(self.family, self.path)
            return
        # nothing of the user's pytest options or plugins in the server's own configuration (a run's pytest process
        # has none either: harness.run.warm.child_env); a child takes the order's environment
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        self.process = subprocess.Popen([sys.executable, __file__, str(self.path), self.family.spec()],
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        cwd=ROOT, env=env)
        self.pid = self.process.pid

    def _ask(self, order: dict[str, Any]) -> tuple[socket.socket, dict[str, Any]]:
        """Send `order` to this server (started first when it is not running); its connection and first answer."""
        with self._lock:
            if not self._running():
                self._settle()
                self._start()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = READY_S
        while True:  # the socket appears once the server has started
            try:
                conn.connect(str(self.path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if deadline <= 0 or not self._running():
                    conn.close()
                    raise
                select.select([], [], [], 0.01)
                deadline -= 0.01
        try:
            conn.sendall(json.dumps(order).encode("utf-8") + b"\n")
            answer = _read_line(conn, READY_S)
            if answer is None:
                raise RuntimeError(f"the fork server {self.family.name} did not answer")
        except BaseException:
            conn.close()
            raise
        self.server_cpu_s = max(self.server_cpu_s, float(answer["server_cpu_s"]))
        return conn, answer

    def fork(self, order: dict[str, Any], argv: list[str]) -> Forked:
        conn, answer = self._ask(order)
        return Forked(conn, int(answer["pid"]), argv, self)

    def spawn(self, family: Family, path: Path) -> int:
        """The pid of a server of `family` forked from this one, listening on `path`."""
        conn, answer = self._ask({"spawn": json.loads(family.spec()), "path": str(path)})
        conn.close()
        return int(answer["pid"])

    def _settle(self) -> None:
        """A server that has been waited for: its CPU and its children's are the test process's children's now (the
        servers spawned from it are waited for by it)."""
        self.children_cpu_s = self.server_cpu_s = 0.0
        self.process = self.pid = None

    def close(self) -> None:
        """End the `plain` server, and with it those spawned from it (the end of their standard input)."""
        if self.process is None:
            return
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._settle()


@dataclass
class ForkServer:
    """The servers of one test process, one per family (`family_of`), each started at its family's first order:
    `plain` as a process, `run` forked from it, the others from `run`; `close` ends them."""

    folder: Path
    servers: dict[str, Server] = field(default_factory=dict)
    retired_cpu_s: float = 0.0
    """What the servers ended by `make_room` had counted."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        SERVERS.append(self)

    @property
    def cpu_s(self) -> float:
        return self.retired_cpu_s + sum(server.cpu_s for server in list(self.servers.values()))

    @property
    def server_cpu_s(self) -> float:
        """The servers' own CPU seconds, before and between their forks."""
        return sum(server.server_cpu_s for server in list(self.servers.values()))

    def server(self, family: Family) -> Server:
        """The server of `family` (of `run` when there are `MAX_SERVERS` already)."""
        with self._lock:
            others = [name for name in self.servers if name not in ("plain", "run")]
            if family.name not in ("plain", "run", *others) and len(others) >= MAX_SERVERS - 2:
                family = Family("run", family.pytest_args, RUN_MODULES, family.path)
            if family.name not in self.servers:
                parent = None
                if family.name != "plain":
                    parent = self.servers.get("plain") or self._add(PLAIN, None)
                if family.name not in ("plain", "run"):
                    parent = self.servers.get("run") or self._add(
                        Family("run", family.pytest_args, RUN_MODULES, family.path), parent)
                self._add(family, parent)
            return self.servers[family.name]

    def make_room(self, families: set[str]) -> None:
        """Room under `MAX_SERVERS` for a server of each of `families`: the servers of other families spawned from
        `run`, oldest first, none of whose forked processes is still running, end (a later order of theirs starts
        one again). For tests that look at which server an order goes to, in a test process whose earlier runs may
        have filled it."""
        with self._lock:
            others = [name for name in self.servers if name not in ("plain", "run")]
            wanted = len(families - {"plain", "run", *others})
            for name in list(others):
                if wanted <= MAX_SERVERS - 2 - len(others) or name in families:
                    continue
                server = self.servers[name]
                if server.pid is not None and _busy(server.pid):
                    continue
                if server.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(server.pid, signal.SIGKILL)  # reaped by `run`, the server it was spawned from
                self.retired_cpu_s += server.cpu_s
                del self.servers[name]
                others.remove(name)

    def _add(self, family: Family, parent: Server | None) -> Server:
        self.servers[family.name] = Server(self.folder / family.name.replace("@", "-"), family, parent)
        return self.servers[family.name]

    def fork(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> Forked:
        """A pytest process running `argv` (pytest's arguments) with `env`, from `cwd` (else the current working
        folder); what it prints goes to `log`."""
        folder = str(cwd or os.getcwd())
        order = {"argv": argv, "log": str(log), "env": env, "cwd": folder}
        return self.server(family_of(argv, env, folder)).fork(order, argv)

    def run(self, argv: list[str], log: Path, env: dict[str, str], cwd: Path, timeout: float) -> int:
        """`python -m pytest ARGV` run to its end, as a test that starts a run's pytest process by its command line
        would (`fork`): its exit status; killed, and TimeoutExpired, past `timeout` seconds."""
        process = self.fork(argv, log, env, cwd)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
            raise

    def close(self) -> None:
        """End the servers: the `plain` one, which the others end with; each counted afresh if started again."""
        plain = self.servers.get("plain")
        if plain is not None:
            plain.close()
        for server in list(self.servers.values()):
            server._settle()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
