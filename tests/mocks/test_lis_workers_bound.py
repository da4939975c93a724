"""`hih mock serve --interface lis --workers 2 --max-rows N`: a worker's memory keeps its bound when the rows that
grow it are the other worker's, merged as it reads the other's log (over real sockets, one connection per worker)."""

from __future__ import annotations

import httpx
import pytest

from mocks.serve import ServeOptions
from tests.conftest import CONTRACTS
from tests.mocks.lis_workers import lis_workers
from tests.mocks.serving import serving

pytestmark = pytest.mark.slow
BOUND = 100


def test_orders_the_other_worker_took_are_let_go_within_the_bound_and_the_newest_kept() -> None:
    """Orders placed on the second worker and cancelled on the first, then one more placed on the second: the first
    worker (whose view the admin API gives) has grown past `--max-rows` only by what it read from the second's log,
    and holds the bound, the cancelled (finished) orders gone first, the newest open one kept."""
    options = ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, max_rows=BOUND)
    with serving(options) as fields:
        with lis_workers(fields, "B") as lis:
            on = lis.one_per_worker(cancel_probes=True)
            for n in range(BOUND + 30):
                assert lis.send(on[2], f"X{n:03d}") == "OK"
                assert lis.send(on[1], f"X{n:03d}", "CA") == "CR", "the first worker reads the second's order"
            assert lis.send(on[2], "LAST") == "OK"
        admin = lis.admin
        orders = {o["placer_no"]: o["status"]
                  for o in httpx.get(f"{admin}lis/population", timeout=10).json()["orders"]}
        assert len(orders) == BOUND, "the first worker's memory at its bound"
        assert orders.pop("LAST") == "received", "the newest order, open, is kept"
        assert set(orders.values()) == {"cancelled"}
        assert f"X{BOUND + 29:03d}" in orders, "the finished rows went oldest first"
