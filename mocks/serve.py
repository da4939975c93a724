"""`hih mock serve`: start mocks on fixed or free ports, print where they listen, run until interrupted."""

from __future__ import annotations

import gc
import ipaddress
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.contract.loader import ContractStore
from harness.errors import UsageError
from mocks.base import MockService
from mocks.registry import MOCKS, mock_class
from mocks.replay.serve import recordings, replay_on
from mocks.state import DEFAULT_MAX_ROWS, open_store
from mocks.stop_signals import stopping_on_signals
from mocks.transport.admin import admin_app
from mocks.transport.busy_poll import MAX_WINDOW_US
from mocks.transport.journal import DEFAULT_MAX_BYTES
from mocks.transport.origin import HostAllowList
from mocks.transport.runtime import Runtime

ADMIN = "admin"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServeOptions:
    interfaces: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    state: Path | None = None
    contracts: dict[str, str] = field(default_factory=dict)
    contracts_dir: Path | None = None
    push: dict[str, str] = field(default_factory=dict)
    """Interface -> HOST:PORT of a hospital listener the mock sends its results/reports to (HL7 mocks)."""
    push_every_s: float = 5.0
    allowed_hosts: list[str] = field(default_factory=list)
    """Host names the consoles and the admin API answer to, beside the loopback names and the bound host."""
    journal_bytes: int = DEFAULT_MAX_BYTES
    """Each mock's journal bound, in bytes."""
    max_rows: int = DEFAULT_MAX_ROWS
    """Rows each growing table of a mock keeps in memory (finished visits and orders go first)."""
    workers: int = 1
    """Processes serving the mocks (`mocks.workers`): more than 1 uses more cores, the state shared in SQLite."""
    auto_workers: bool = False
    """`--workers auto`: as many processes as win for the mocks served (`mocks.workers_auto`), instead of `workers`."""
    replay: list[Path] = field(default_factory=list)
    """Recordings of `hih proxy` to answer from, each for the interface it recorded (mocks.replay)."""
    unrecorded: str = "error"
    """What a request without a recorded answer gets: `error` or `contract` (the mock's own behaviour)."""
    mask: Callable[[str, str], str] | None = None
    """Masks a request as the recordings were masked (hih.toml's rules), to match it against them."""
    busy_poll_s: float = 0.0
    """How long each serving loop polls its MLLP connections after a message before it sleeps (`--busy-poll-us`;
    `mocks.transport.busy_poll`); 0: it sleeps at once."""


def _address(name: str, value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        raise UsageError(f"--push {name}={value}: expected HOST:PORT of the hospital's listener")
    return host, int(port)


def _state_path(base: Path, interface: str, many: bool) -> Path:
    # One SQLite file per mock, so that two mocks never share tables; a single mock uses the file as given.
    return base if not many else base.with_name(f"{base.stem}.{interface}{base.suffix or '.sqlite'}")


def run_until_stopped(stop: threading.Event, every_s: float, tick: Callable[[], bool | None]) -> None:
    """Block until `stop` is set, SIGINT or SIGTERM arrives (on the main thread), or `tick()`, called every
    `every_s` seconds, returns False."""
    with stopping_on_signals(stop):
        while not stop.wait(every_s):
            if tick() is False:
                return


def serve(options: ServeOptions, announce: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Start the mocks and the admin API, announce each endpoint, block until `stop` is set or SIGINT/SIGTERM."""
    store = ContractStore(options.contracts_dir)
    names = list(dict.fromkeys(options.interfaces)) or [n for n in MOCKS if n in store.interfaces()]
    for name in names:
        mock_class(name)
    pushes = {name: _address(name, value) for name, value in options.push.items()}
    for name in pushes:
        if not hasattr(mock_class(name), "start_pushing"):
            raise UsageError(f"--push {name}: the {name} mock does not send messages to the hospital")
    if options.journal_bytes < 2**20:
        raise UsageError(f"--journal-mib {options.journal_bytes / 2**20:g}: give at least 1 (MiB)")
    if options.max_rows < 100:
        raise UsageError(f"--max-rows {options.max_rows}: give at least 100")
    if not 0 <= options.busy_poll_s <= MAX_WINDOW_US / 1e6:
        raise UsageError(f"--busy-poll-us {options.busy_poll_s * 1e6:.0f}: give 0 to {MAX_WINDOW_US} (microseconds)")
    if options.push_every_s <= 0:
        raise UsageError(f"--push-every {options.push_every_s:g}: give a number of seconds above 0")
    for name in [*options.ports, *options.contracts, *pushes]:
        if name not in names and name != ADMIN:
            raise UsageError(f"{name!r} is not among the mocks being served ({', '.join(names)})")
    token = os.environ.get("HIH_ADMIN_TOKEN")
    if not is_loopback(options.host) and not token:
        raise UsageError(f"--host {options.host} is not loopback: set HIH_ADMIN_TOKEN so the admin API asks for it")
    replays = recordings(options.replay, options.unrecorded, names)
    if options.auto_workers:
        from mocks.workers_auto import auto_workers

        options = replace(options, workers=auto_workers(names, bool(options.replay), bool(pushes)))
    if options.workers != 1:
        if replays:
            raise UsageError("--replay answers from one process: leave out --workers")
        from mocks.workers import serve_workers

        serve_workers(options, {name: store.load(name, options.contracts.get(name)) for name in names}, announce, stop)
        return
    runtime = Runtime().start()
    runtime.poll_before_sleeping(options.busy_poll_s)  # this process's loop serves the mocks and nothing else
    mocks: dict[str, MockService] = {}
    try:
        for name in names:
            contract = store.load(name, options.contracts.get(name))
            path = _state_path(options.state, name, len(names) > 1) if options.state else None
            shared = getattr(mock_class(name), "shared_store", None)
            if path is not None and shared is not None:  # what a previous run's workers left unwritten (one killed)
                shared.recover(path)
            mock = mock_class(name)(contract, open_store(path))
            mock.journal.max_bytes = options.journal_bytes
            mock.limit_state(options.max_rows)
            mock.extra_hosts = tuple(options.allowed_hosts)
            replaying = replay_on(mock, replays[name], options.unrecorded, options.mask) if name in replays else ""
            endpoint = mock.start(runtime, options.host, options.ports.get(name, 0))
            mocks[name] = mock
            kept = f", state in {path}" if path else ""
            announce(f"{name}\t{endpoint.url}\t(contract {contract.version}{kept})")
            if replaying:
                announce(f"{name} replay\t{replaying}")
            extra = getattr(mock, "extra_endpoints", None)  # e.g. the blood centre's WSDL and trainer console
            for label, where in (extra() if callable(extra) else {}).items():
                announce(f"{name} {label}\t{where}")
            if accepts := mock.accepts():  # what a hospital system must send (a secret from the environment is not shown)
                announce(f"{name} accepts\t" + " · ".join(f"{key} {value}" for key, value in accepts.items()))
            if name in pushes:
                host, port = pushes[name]
                start_pushing = getattr(mock, "start_pushing", None)
                assert callable(start_pushing)  # checked before anything started
                start_pushing(pushes[name], options.push_every_s, announce)
                announce(f"{name} push\tmllp://{host}:{port} every {options.push_every_s:g} s")
        hosts = HostAllowList.for_bind(options.host, options.allowed_hosts)
        admin = runtime.serve_http(admin_app(mocks, token if not is_loopback(options.host) else None, hosts),
                                   options.host, options.ports.get(ADMIN, 0))
        shown = f"[{options.host}]" if ":" in options.host else options.host
        announce(f"{ADMIN}\thttp://{shown}:{admin.port}/__hih/")
        for name in mocks:
            announce(f"{name} population\thttp://{shown}:{admin.port}/__hih/{name}/population")
        announce("ready: press Ctrl-C to stop")
        # A serving mock accumulates long-lived, acyclic state (ledger documents, the journal). Left in the collector's
        # generations they make every full collection walk all of it: a 70 ms stall at p99 under load. Each second
        # the survivors are frozen out of its reach; young cycles (tracebacks, transports) are still collected.
        gc.freeze()
        run_until_stopped(stop or threading.Event(), 1.0, gc.freeze)
    finally:
        for mock in mocks.values():
            stop_pushing = getattr(mock, "stop_pushing", None)
            if callable(stop_pushing):
                stop_pushing()
        runtime.stop()
        for mock in mocks.values():
            mock.store.close()
