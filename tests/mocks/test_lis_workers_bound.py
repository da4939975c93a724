"""`hih mock serve --interface lis --workers 2 --max-rows N`: a worker's memory keeps its bound when the rows that
grow it are the other worker's, merged as it reads the other's log (over real sockets, one connection per worker)."""

from __future__ import annotations

import itertools

import httpx
import pytest

from harness.contract.hl7.mllp_client import MllpSyncClient
from mocks.serve import ServeOptions
from tests.conftest import CONTRACTS
from tests.contracts.hl7 import messages as m
from tests.mocks.serving import serving

pytestmark = pytest.mark.slow
BOUND = 100


def test_orders_the_other_worker_took_are_let_go_within_the_bound_and_the_newest_kept() -> None:
    """Orders placed on the second worker and cancelled on the first, then one more placed on the second: the first
    worker (whose view the admin API gives) has grown past `--max-rows` only by what it read from the second's log,
    and holds the bound, the cancelled (finished) orders gone first, the newest open one kept."""
    options = ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, max_rows=BOUND)
    with serving(options) as fields:
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        admin = fields["admin"][1]
        sent = itertools.count()

        def send(client: MllpSyncClient, placer: str, order_control: str = "NW") -> str:
            text = m.lis_oml(order_control, f"B{next(sent):05d}").replace("HIS20240105001", placer)
            reply = client.send(text).message
            assert reply is not None and reply.get("MSA-1") == "AA"
            return reply.get("ORC-1")

        def worker_of(placer: str) -> int:
            entries = httpx.get(f"{admin}lis/journal", params={"limit": 1000}, timeout=10).json()["entries"]
            return next(e["worker"] for e in entries if e["meta"].get("order") == placer)

        on: dict[int, MllpSyncClient] = {}
        opened: list[MllpSyncClient] = []
        try:
            for n in range(60):  # the kernel spreads connections over the workers: keep the first to each
                client = MllpSyncClient(host, int(port), timeout=5.0)
                opened.append(client)
                assert send(client, f"PROBE{n}") == "OK"
                send(client, f"PROBE{n}", "CA")
                on.setdefault(worker_of(f"PROBE{n}"), client)
                if len(on) == 2:
                    break
            assert sorted(on) == [1, 2], "sixty connections all went to one worker"
            for n in range(BOUND + 30):
                assert send(on[2], f"X{n:03d}") == "OK"
                assert send(on[1], f"X{n:03d}", "CA") == "CR", "the first worker reads the second's order"
            assert send(on[2], "LAST") == "OK"
        finally:
            for client in opened:
                client.close()
        orders = {o["placer_no"]: o["status"]
                  for o in httpx.get(f"{admin}lis/population", timeout=10).json()["orders"]}
        assert len(orders) == BOUND, "the first worker's memory at its bound"
        assert orders.pop("LAST") == "received", "the newest order, open, is kept"
        assert set(orders.values()) == {"cancelled"}
        assert f"X{BOUND + 29:03d}" in orders, "the finished rows went oldest first"
