"""`hih mock serve --workers N`: the same mocks served by N processes, so a mock uses every core.

Each worker is a process of its own, forked from a process that has imported what it needs (`mocks.workers_fork`; `python -m
mocks.workers` with its configuration on stdin starts one by hand), that listens on the mock's port with
SO_REUSEPORT (the kernel spreads connections over the workers) and keeps its state in step with the others through
the store its mock names (`shared_store`): per-worker logs beside the state file for the insurance ledger and the
LIS (`mocks.insurance_store`, `mocks.shared_logs`, `mocks.lazy_logs`), one SQLite file all workers share for the SOAP partners
(`mocks.shared_state`); the state is the `--state` file when given, else a scratch one removed at the end (or by the
next serve when this one is killed outright: `mocks.workers_scratch`). The parent
holds each port from the start (bound, not listening), watches the workers, and serves the admin API, which asks
every worker and merges their answers (`mocks.transport.admin_workers`). Only mocks whose state is all in their
store can be served so (insurance, lis, the blood centre, the maternal-child platform); pushing results to a hospital stays with one process (`--push`).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import secrets
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ServeStopped, UsageError
from harness.lifeline import die_with_parent

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkContext, ForkServerContext

    from harness.contract.model import Contract
    from mocks.serve import ServeOptions

MAX_WORKERS = 16
READY_TIMEOUT_S = 90.0
STOP_GRACE_S = 10.0
"""How long the workers have, all at once, to stop after SIGTERM before they are killed. A worker writes what it
answered to the state file first thing when it stops (`worker_main`), and what a killed worker had not written is
read back from its log at the next start (`mocks.log_recovery`)."""
WORKER_STOP_S = 5.0
"""A worker's budget for stopping its servers (within STOP_GRACE_S), before it closes its stores."""
SAY = "say "
"""A worker's line for the parent to announce (before `ready PORT`)."""


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT held back from the calling thread while it forks a worker. The child inherits the mask and
    takes them once its own handlers are set (`worker_main`): one sent to it while it starts (a serve stopped then)
    stops it. Without this, one that came between the fork and those handlers ran the serving process's inherited
    handler in the child, and was lost: the worker served on until killed at the end of the stop's grace. The serving
    process takes one it got meanwhile as soon as the fork is done."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _reserve(host: str, port: int) -> socket.socket:
    """Hold host:port for the workers: bound with SO_REUSEPORT but not listening, so it takes no connection."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


class _Stopped(Exception):
    """Stopping was asked for while the workers were starting."""


class _Worker:
    def __init__(self, index: int, config: dict[str, Any], context: ForkContext | ForkServerContext,
                 lifeline: Connection | None, scratch: Path) -> None:
        from mocks.workers_fork import run_worker

        self.index = index
        self.log = scratch / f"worker-{index + 1}.log"
        """Its standard error, read back when it fails (in the serving process's scratch folder, removed at the end)."""
        # the configuration (the admin API's secret with it) reaches the worker in a pipe (the forkserver's) or in the
        # memory it is forked with: a command line is anyone's to read
        self.out, there = context.Pipe(duplex=False)
        self.proc = context.Process(target=run_worker, args=({**config, "index": index}, there, lifeline, str(self.log)),
                                    name=f"hih-mock-worker-{index + 1}", daemon=True)
        try:
            with _stop_signals_held():
                self.proc.start()
        except BaseException:
            self.out.close()
            raise
        finally:
            there.close()
        self.admin_port = 0
        self.said: list[str] = []
        """What the worker announced before it was ready (a console's and a WSDL's address ...), `NAME LABEL\tWHERE`."""

    def wait_ready(self, deadline: float, stop: threading.Event) -> None:
        """Read the worker's announcements up to its `ready PORT`; `_Stopped` when `stop` is set meanwhile."""
        fd = self.out.fileno()
        seen = b""
        while True:
            *complete, _ = seen.split(b"\n")
            said = [x.decode("utf-8", "replace") for x in complete]
            if any(not x.startswith(SAY) for x in said):
                break
            if stop.is_set():
                raise _Stopped
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.exitcode is not None:
                raise UsageError(f"worker {self.index + 1} did not start: {self.failure()}")
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise UsageError(f"worker {self.index + 1} did not start: {self.failure()}")
                seen += chunk
        last = next(x for x in said if not x.startswith(SAY))
        self.said = [x.removeprefix(SAY) for x in said[:said.index(last)]]
        line = last.split()
        if len(line) != 2 or line[0] != "ready" or not line[1].isdigit():
            raise UsageError(f"worker {self.index + 1} said {' '.join(line)!r} instead of being ready")
        self.admin_port = int(line[1])

    def failure(self) -> str:
        """The last line the worker wrote to its standard error (a traceback's: the exception), else its exit code."""
        self.proc.join(1.0)  # its end seen on its pipe comes just before its exit status
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        lines = [x for x in text.splitlines() if x.strip()]
        return lines[-1] if lines else f"exit code {self.proc.exitcode}"

    def ended(self) -> bool:
        return self.proc.exitcode is not None

    def terminate(self) -> None:
        if self.proc.exitcode is None:
            self.proc.terminate()

    def finish(self, deadline: float) -> bool:
        """Wait for the worker to end until `deadline`, then kill it (True: it was killed)."""
        killed = False
        self.proc.join(max(0.0, deadline - time.monotonic()))
        if self.proc.exitcode is None:
            self.proc.kill()
            self.proc.join(5)
            killed = True
        self.out.close()
        return killed

    def stop(self) -> None:
        self.terminate()
        self.finish(time.monotonic() + STOP_GRACE_S)


def _stop_all(workers: list[_Worker], announce: Callable[[str], None], durable: bool) -> None:
    """SIGTERM to every worker at once, one grace for all (not one each: N stopping workers would have N times it)."""
    for worker in workers:
        worker.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    kept = (" (what it answered and had not yet written to the state file is read back from its log at the next "
            "start)") if durable else ""
    for worker in workers:
        if worker.finish(deadline):
            announce(f"worker {worker.index + 1} did not stop within {STOP_GRACE_S:g} s: killed{kept}")


def serve_workers(options: ServeOptions, contracts: dict[str, Contract], announce: Callable[[str], None],
                  stop: threading.Event | None = None) -> None:
    """Serve the mocks of `contracts` (interface -> the contract served) from `options.workers` processes until
    `stop` is set or SIGINT/SIGTERM."""
    from mocks import workers_scratch
    from mocks.registry import MOCKS, mock_class
    from mocks.serve import ADMIN, _state_path, is_loopback
    from mocks.transport.admin_workers import fanout_app
    from mocks.transport.origin import HostAllowList
    from mocks.transport.runtime import Runtime
    from mocks.workers_fork import cores, preload_modules, starter

    names = list(contracts)
    count = options.workers
    assert isinstance(count, int), "serve() resolves --workers auto"
    refused = [n for n in names if not mock_class(n).shares_state]
    if refused:
        shareable = [n for n in MOCKS if mock_class(n).shares_state]
        raise UsageError(f"--workers {options.workers}: the {', '.join(refused)} mock keeps state outside its store and "
                         f"is served by one process (--workers serves: {', '.join(shareable)})")
    if options.push:
        raise UsageError("--workers and --push: results are pushed by one process; serve the pushing mock without --workers")
    if not 2 <= count <= MAX_WORKERS:
        raise UsageError(f"--workers {options.workers}: give 2 to {MAX_WORKERS} (1 is the default, one process)")
    token = os.environ.get("HIH_ADMIN_TOKEN")
    stop = stop or threading.Event()
    # a SIGTERM while the workers start (before `_wait` listens for it) stops them the same way, clean-up included
    previous = _stop_on_sigterm(stop)
    workers_scratch.sweep()  # the scratch folders of serves killed outright
    held_scratch = workers_scratch.make()
    scratch = held_scratch.path
    held: list[socket.socket] = []
    workers: list[_Worker] = []
    runtime = Runtime()
    held_ends: list[Connection] = []
    try:
        interfaces = {}
        for name in names:
            sock = _reserve(options.host, options.ports.get(name, 0))
            held.append(sock)
            state = _state_path(options.state, name, len(names) > 1) if options.state else scratch / f"{name}.sqlite"
            interfaces[name] = {"port": sock.getsockname()[1], "state": str(state), "durable": options.state is not None,
                                "contract": contracts[name].version}
        secret = secrets.token_urlsafe(24)
        config = {"workers": options.workers, "host": options.host, "interfaces": interfaces, "admin_token": secret,
                  "contracts_dir": str(options.contracts_dir) if options.contracts_dir else None,
                  "journal_bytes": options.journal_bytes, "max_rows": options.max_rows,
                  "allowed_hosts": options.allowed_hosts,
                  "busy_poll_s": options.busy_poll_s, "cores": cores()}
        # served from a thread other than the main one, this process outlives the serve (a test suite, a program
        # that embeds hih) and its forkserver forks the next serves' workers too: it preloads every mock's modules
        embedded = threading.current_thread() is not threading.main_thread()
        context, needs_lifeline = starter(preload_modules(contracts.values(), every_mock=embedded))
        lifeline: Connection | None = None
        if needs_lifeline:  # forked by the forkserver, a worker ends when this process, the sole holder of `keep`, does
            lifeline, keep = context.Pipe(duplex=False)
            held_ends += [lifeline, keep]
        # the first worker makes the state file (schema, seed); the others start when it is ready
        try:
            workers.append(_Worker(0, config, context, lifeline, scratch))
            workers[0].wait_ready(time.monotonic() + READY_TIMEOUT_S, stop)
            workers.extend(_Worker(i, config, context, lifeline, scratch) for i in range(1, count))
            deadline = time.monotonic() + READY_TIMEOUT_S
            for worker in workers[1:]:
                worker.wait_ready(deadline, stop)
        except _Stopped:
            return  # the workers started so far are stopped below
        shown = f"[{options.host}]" if ":" in options.host else options.host
        for name, spec in interfaces.items():
            scheme = "mllp" if mock_class(name).transport == "mllp" else "http"
            kept = f", state in {spec['state']}" if options.state else ""
            announce(f"{name}\t{scheme}://{shown}:{spec['port']}\t(contract {spec['contract']}, "
                     f"{options.workers} workers{kept})")
            for said in workers[0].said:  # e.g. the blood centre's console and WSDL, served by every worker
                if said.startswith(name + " "):
                    announce(said)
        hosts = HostAllowList.for_bind(options.host, options.allowed_hosts)
        admin = runtime.start().serve_http(
            fanout_app([w.admin_port for w in workers], secret, token if not is_loopback(options.host) else None, hosts),
            options.host, options.ports.get(ADMIN, 0))
        announce(f"{ADMIN}\thttp://{shown}:{admin.port}/__hih/")
        announce("ready: press Ctrl-C to stop")
        lost = _wait(stop, workers, announce)
        if lost:
            raise ServeStopped(f"{lost}: the serve stopped")
    finally:
        _stop_all(workers, announce, options.state is not None)
        runtime.stop()
        for sock in held:
            sock.close()
        for end in held_ends:
            end.close()
        held_scratch.release()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm(stop: threading.Event) -> Any:
    """On the main thread, have SIGTERM set `stop`; the handler it replaces (None elsewhere: only the main thread
    receives signals)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())


def _wait(stop: threading.Event, workers: list[_Worker], announce: Callable[[str], None]) -> str:
    """Serve until `stop` is set or SIGINT/SIGTERM (""), or until a worker ends on its own: then what ended it
    (`worker N stopped (REASON)`), for the serve to stop with an error, since its port is served by fewer processes."""
    from mocks.serve import run_until_stopped

    lost: list[str] = []

    def check() -> bool:
        gone = [w for w in workers if w.ended()]
        if gone:
            lost.append(f"worker {gone[0].index + 1} stopped ({gone[0].failure()})")
            announce(f"{lost[0]}: stopping")
        return not gone

    run_until_stopped(stop, 0.5, check)
    return lost[0] if lost else ""


# -- a worker ----------------------------------------------------------------------------------------------------
def worker_main(config: dict[str, Any], lifeline: Connection | None = None) -> None:
    """Serve each mock of `config` on its shared port, then the worker's private admin API; print `ready PORT`. A
    forked worker ends when the other end of `lifeline` closes (`mocks.workers_fork`)."""
    from harness.contract.loader import ContractStore
    from harness.lifeline import die_with
    from mocks.placement import place_worker
    from mocks.registry import mock_class
    from mocks.shared_state import SharedSqliteStore
    from mocks.transport.admin import admin_app
    from mocks.transport.origin import HostAllowList
    from mocks.transport.runtime import Runtime

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held since the fork (`_stop_signals_held`)
    if stop.is_set():
        return  # stopped before it started: nothing to serve, nothing to write
    # SIGTERM from the kernel when the serving process dies, even while this one is still starting
    parent = int(config.get("parent") or os.getppid())
    if not die_with_parent(parent):
        return
    if lifeline is not None:
        die_with(lifeline)
    place_worker(config["index"], config["workers"])  # before the runtime's threads, which inherit the core
    store = ContractStore(Path(config["contracts_dir"]) if config["contracts_dir"] else None)
    runtime = Runtime().start()
    runtime.poll_before_sleeping(float(config.get("busy_poll_s") or 0.0))
    mocks = {}
    try:
        for name, spec in config["interfaces"].items():
            kind = getattr(mock_class(name), "shared_store", SharedSqliteStore)  # a mock may log its writes in batches
            placed = {"worker": (config["index"], config["workers"])} if getattr(kind, "per_worker", False) else {}
            shared = kind(Path(spec["state"]), durable=spec["durable"], **placed)
            mock = mock_class(name)(store.load(name, spec["contract"]), shared)
            mock.share(config["index"], config["workers"], Path(spec["state"]))
            mock.journal.max_bytes = config["journal_bytes"]
            mock.limit_state(config["max_rows"])
            mock.extra_hosts = tuple(config["allowed_hosts"])
            mock.reuse_port = True
            mock.start(runtime, config["host"], spec["port"])
            mocks[name] = mock
            extra = getattr(mock, "extra_endpoints", None)
            for label, where in (extra() if callable(extra) else {}).items():
                print(f"{SAY}{name} {label}\t{where}", flush=True)
            if accepts := mock.accepts():
                print(f"{SAY}{name} accepts\t" + " · ".join(f"{k} {v}" for k, v in accepts.items()), flush=True)
        admin = runtime.serve_http(admin_app(mocks, config["admin_token"], HostAllowList.for_bind("127.0.0.1")),
                                   "127.0.0.1", 0)
        print(f"ready {admin.port}", flush=True)
        gc.freeze()  # see serve(): long-lived state out of the collector's walks
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the serving process is gone (killed): so is its port, stop serving it
                break
            for mock in mocks.values():  # a store of per-worker logs reads the others' at least once a second
                sync = getattr(mock.store, "sync", None)
                if callable(sync):
                    sync()
            gc.freeze()
    finally:
        # what was answered goes to the state file before the servers stop, which may outlast the parent's grace
        for mock in mocks.values():
            flush = getattr(mock.store, "flush", None)
            if callable(flush):
                with contextlib.suppress(Exception):
                    flush()
        runtime.stop(within_s=WORKER_STOP_S)
        for mock in mocks.values():
            with contextlib.suppress(Exception):
                mock.store.close()


if __name__ == "__main__":
    worker_main(json.loads(sys.stdin.buffer.read()))
