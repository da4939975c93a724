"""What every mock has: its contract, journal, faults and state, and a way to start on the shared runtime."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness.contract.model import Contract
from mocks.state import DEFAULT_MAX_ROWS, Store, Tables
from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.journal import Exchange, Journal
from mocks.transport.limits import InputLimits
from mocks.transport.origin import HostAllowList
from mocks.transport.refusal import Refusal
from mocks.transport.runtime import Listener, Runtime


@dataclass(frozen=True)
class Endpoint:
    """Where a started mock listens: `url` for HTTP mocks, `host:port` for MLLP."""

    interface: str
    host: str
    port: int
    url: str


class MockService:
    """Base of the partner mocks. Subclasses provide `serve()` and their behaviour; state lives in `store`."""

    interface = ""
    transport = "http"
    growing: dict[str, Callable[[Any], bool] | None] = {}
    """Tables that grow with traffic, each with what makes a row finished (None: any row), bounded in memory."""
    shares_state = False
    auto_workers = 1
    """Serving processes `hih mock serve --workers auto` gives this mock (`mocks.workers_auto`): 1 unless more won in
    the figures of bench/RESULTS.md."""
    lean_http = False
    """Served by the mocks' lean HTTP server (`mocks.transport.lean_http`) instead of uvicorn (unless the environment
    says HIH_MOCK_HTTP=uvicorn: a way back should a client need something only uvicorn does)."""
    """All its state is in `store`, so several processes can serve it over one shared store (`--workers`)."""

    def __init__(self, contract: Contract, store: Store | None = None, journal_capacity: int = 10_000) -> None:
        self.contract = contract
        self.store = store or Store()
        self.journal = Journal(journal_capacity)
        self.faults = FaultPlan()
        self.endpoint: Endpoint | None = None
        self._listener: Listener | None = None
        self.allowed_hosts = HostAllowList.for_bind("127.0.0.1")
        """The Host names the mock's console (where it has one) answers to; `start` adds the bound host."""
        self.extra_hosts: tuple[str, ...] = ()
        """More names for `allowed_hosts` (`hih mock serve --allow-host`), set before `start`."""
        self.reuse_port = False
        """Listen with SO_REUSEPORT beside other processes serving the same mock (`--workers`), set before `start`."""
        self.limit_state(DEFAULT_MAX_ROWS)
        self.front: Callable[[Any], Any] | None = None
        """An ASGI layer put in front of the partner's app when it starts (`hih mock serve --replay`)."""
        self._seeded: tuple[Hashable, Tables] | None = None
        """The rows of the last seeding by `reset`, under its `seed_key`, restored by the next ones (an in-memory
        store)."""
        self.seed()

    # -- state ------------------------------------------------------------------------------------------
    def seed(self) -> None:
        """Put the partner's starting data into an empty store (kept when the store already holds some)."""

    def seed_key(self) -> Hashable | None:
        """What the rows `seed()` puts into an empty store depend on besides what the mock was built with (the
        partner's day, say): `reset` restores the rows of its last seeding under an equal key (`Store.restore`)
        instead of seeding again, row by row, before every scenario. None (here): seeded every time."""
        return None

    def reset(self) -> None:
        """A fresh partner: empty journal, no faults, seeded state."""
        self.journal.clear()
        self.faults.clear()
        key = self.seed_key()
        if key is not None and self._seeded is not None and self._seeded[0] == key:
            self.store.restore(self._seeded[1])
            return
        self.store.clear()
        self.seed()
        if key is not None and type(self.store) is Store:
            # a store shared with other serving processes (`--workers`) or a state file resets as its writes go
            self._seeded = (key, self.store.tables())

    def limit_state(self, max_rows: int) -> None:
        """Keep at most `max_rows` rows of each growing table in memory, the oldest finished ones going first
        (`Store.bound`): a mock that serves for days stays within its memory; a state file keeps every row."""
        for table, finished in self.growing.items():
            self.store.bound(table, max_rows, finished)

    def clock(self) -> datetime:
        """The partner's clock: real time, shifted by an armed `clock` fault (naive local time, like the hospital's)."""
        shift = self.faults.clock_shift_s()
        return datetime.now() + timedelta(seconds=shift) if shift else datetime.now()

    def share(self, index: int, workers: int, state: Path) -> None:
        """Serve as worker `index` (0-based) of `workers` processes that share the state file `state`
        (`hih mock serve --workers`): identifiers this mock makes are drawn so that no two workers make the same."""

    # -- faults and journal -----------------------------------------------------------------------------
    def inject(self, kind: str, **options: Any) -> Fault:
        """Arm a fault for the next matching exchange(s), e.g. `inject("no_reply", operation="2207")`."""
        return self.faults.add(Fault(kind=kind, **options))

    def exchanges(self, operation: str | None = None) -> list[Exchange]:
        return self.journal.entries(operation)

    # -- serving ----------------------------------------------------------------------------------------
    def asgi_app(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} is not served over HTTP")

    def start(self, runtime: Runtime, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
        """Listen on host:port (0: a free port) on the shared runtime, request heads bounded by the contract."""
        self.allowed_hosts = HostAllowList.for_bind(host, self.extra_hosts)
        app = self.asgi_app()
        listener = runtime.serve_http(self.front(app) if self.front else app, host, port, InputLimits.of(self.contract),
                                      self.reuse_port, lean=self.lean_http and os.environ.get("HIH_MOCK_HTTP") != "uvicorn")
        self._listener = listener
        Refusal.watch(runtime, listener, self.faults, self.reuse_port)
        shown = f"[{host}]" if ":" in host else host
        self.endpoint = Endpoint(self.interface, host, listener.port, f"http://{shown}:{listener.port}")
        return self.endpoint

    def accepts(self) -> dict[str, str]:
        """The credentials a hospital system must send to be accepted, as `hih mock serve` prints them on start.
        A value set from the environment is named, not shown (`self_service.shown_secret`)."""
        return {}

    def population_data(self) -> dict[str, Any]:
        """The seeded data a hospital system can use (people, orders, bags ...), JSON-ready, for
        `GET /__hih/<interface>/population`: what a tester needs without reading hih's source."""
        return {"interface": self.interface}

    def describe(self) -> dict[str, Any]:
        return {
            "interface": self.interface,
            "contract": self.contract.version,
            "transport": self.transport,
            "endpoint": self.endpoint.url if self.endpoint else None,
            "journal": len(self.journal),
            "faults": [f.to_dict() for f in self.faults.armed()],
        }
