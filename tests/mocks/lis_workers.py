"""One MLLP connection to each worker of `hih mock serve --interface lis --workers 2`, and orders sent on them by
placer number: what the tests of what the two workers share need (the kernel, not the test, spreads connections)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from harness.contract.hl7.mllp_client import MllpSyncClient
from tests.contracts.hl7 import messages as m

PROBES = 60
"""Connections opened at most to find one on each worker."""


@dataclass
class LisWorkers:
    """The served LIS (`fields` of `tests.mocks.serving.serving`) and the connections opened to it."""

    host: str
    port: int
    admin: str
    prefix: str
    """The first letter of the control ids of the orders sent (each test its own)."""
    opened: list[MllpSyncClient] = field(default_factory=list)
    _sent: Iterator[int] = field(default_factory=itertools.count)

    def send(self, client: MllpSyncClient, placer: str, order_control: str = "NW") -> str:
        """An ORM/OML with `placer` as its placer number; the ORC-1 of the accepted reply."""
        text = m.lis_oml(order_control, f"{self.prefix}{next(self._sent):05d}").replace("HIS20240105001", placer)
        reply = client.send(text).message
        assert reply is not None and reply.get("MSA-1") == "AA"
        return reply.get("ORC-1")

    def worker_of(self, placer: str) -> int:
        """The worker that took the order of `placer`, by the admin API's journal."""
        entries = httpx.get(f"{self.admin}lis/journal", params={"limit": 1000}, timeout=10).json()["entries"]
        return next(e["worker"] for e in entries if e["meta"].get("order") == placer)

    def one_per_worker(self, cancel_probes: bool = False) -> dict[int, MllpSyncClient]:
        """A connection to each of the two workers, found by placing a probe order on each new connection (then
        cancelled when `cancel_probes`, so that it is a finished row)."""
        on: dict[int, MllpSyncClient] = {}
        for n in range(PROBES):
            client = MllpSyncClient(self.host, self.port, timeout=5.0)
            self.opened.append(client)
            assert self.send(client, f"PROBE{n}") == "OK"
            if cancel_probes:
                self.send(client, f"PROBE{n}", "CA")
            on.setdefault(self.worker_of(f"PROBE{n}"), client)
            if len(on) == 2:
                break
        assert sorted(on) == [1, 2], f"{PROBES} connections all went to one worker"
        return on


@contextmanager
def lis_workers(fields: dict[str, list[str]], prefix: str) -> Iterator[LisWorkers]:
    """`LisWorkers` of a served LIS, its connections closed at the end."""
    host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
    workers = LisWorkers(host, int(port), fields["admin"][1], prefix)
    try:
        yield workers
    finally:
        for client in workers.opened:
            client.close()
