#!/usr/bin/env python3
"""Instructions per order of the LIS store's work alone, by part: what `--workers 2` adds to an order's store calls.

The mock LIS's store calls for one new order (the placer number looked up, the order put, the patient's fields and
events looked up, the events put while they change) in one transaction, counted by valgrind (callgrind) as
`mllp_instructions.py` counts whole orders: twice, with `--small` and `--large` orders, the difference divided by
the difference of the orders. The order document is the one `LisMock._new_order` keeps. Kinds:

- `memory`: the in-memory `Store` one serving process has;
- `log-unwritten`: one worker's `LazyLogStore` (`mocks.lazy_logs`) whose records are not written (its `_append` a
  no-op): the transaction and the write set;
- `log-one`: the same store writing its log (one worker, no other to read): + stamping, encoding and writing records;
- `log-two`: two workers on one state taking the orders in turns of one, as on the wire: + reading and merging the
  other's record at each transaction's start.

The parts are the differences: the log's write `log-one - log-unwritten`, the read `log-two - log-one`.
Instructions exclude the kernel's work in the system calls (a `write` and a `preadv` an order with two workers).
Needs valgrind (`apt-get install valgrind`). PYTHONHASHSEED is fixed (0) so that dictionaries lay out alike in
every count.

    .venv/bin/python bench/worker_log_instructions.py                       # every kind, this checkout
    .venv/bin/python bench/worker_log_instructions.py --against /tmp/base   # and another commit's `git archive`
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callgrind_count import callgrind_instructions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("memory", "log-unwritten", "log-one", "log-two")
MRN = "0001234567"


def order(n: int) -> dict[str, Any]:
    """The document `LisMock._new_order` keeps for bench/mllp_cpu.py's order number `n`."""
    placer = f"{n:010d}"
    return {"placer_no": placer, "filler_no": f"L240105{n % 100_000:05d}",
            "patient": {"mrn": MRN, "name": "张三", "id_card": "110101199003071234", "sex": "M",
                        "birth_date": "19900307", "patient_class": "O", "visit_no": "V20240105001"},
            "tests": (("CBC", "血常规"),), "status": "received", "control_id": placer, "sender": ["HIS", "HOSP"],
            "results": (), "specimen": "BLD", "ordering_provider": ("D001", "李医生"), "set_ids": ("1",),
            "requested_at": "20240105083000"}


def inside(kind: str, orders: int) -> None:
    """Run `orders` orders' store work on `kind` (after 200 not counted apart: the difference of two runs is)."""
    from mocks.hl7_partner import EVENTS, Hl7PartnerMock, with_event
    from mocks.lazy_logs import LazyLogStore
    from mocks.state import Store

    def work(store: Store, n: int) -> Callable[[], None]:
        def one() -> None:
            placer = f"{n:010d}"
            if store.peek("orders", placer) is not None:
                raise SystemExit(f"order {placer} held twice")
            store.put("orders", placer, order(n))
            if store.peek("patients", MRN) is None:
                store.put("patients", MRN, {"mrn": MRN, "name": "张三"})
            after = with_event(store.peek(EVENTS, MRN) or (), "OML^O21")
            if after is not None:
                store.put(EVENTS, MRN, after)
        return one

    with tempfile.TemporaryDirectory(prefix="hih-worker-log-") as scratch:
        stores: list[Store]
        if kind == "memory":
            stores = [Store()]
        else:
            count = 2 if kind == "log-two" else 1
            logs = [LazyLogStore(Path(scratch) / "state.sqlite", durable=False, worker=(index, count))
                    for index in range(count)]
            if kind == "log-unwritten":
                logs[0]._append = lambda written: None  # type: ignore[method-assign]
            stores = list(logs)
        for store in stores:
            for table, finished in Hl7PartnerMock.growing.items():
                store.bound(table, 50_000, finished)
        for n in range(200 + orders):
            store = stores[n % len(stores)]
            store.atomic(work(store, n))
            if n == 199:
                gc.collect()
                gc.freeze()
        held = stores[-1].count("orders")
        if held != 200 + orders:
            raise SystemExit(f"{held} orders held after {200 + orders}")
        for store in stores:
            store.close()
    print("done")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=4000)
    ap.add_argument("--against", type=Path, help="another checkout (a `git archive`), counted first")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed to each valgrind run")
    ap.add_argument("--inside", nargs=2, metavar=("KIND", "ORDERS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.inside:
        inside(a.inside[0], int(a.inside[1]))
        return 0
    if shutil.which("valgrind") is None:
        ap.error("valgrind is not installed (apt-get install valgrind)")
    kinds = [k for k in a.kinds.split(",") if k]
    if not kinds or any(k not in KINDS for k in kinds):
        ap.error(f"--kinds takes {', '.join(KINDS)}")
    os.environ["PYTHONHASHSEED"] = "0"
    script = Path(__file__).resolve()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{started}, load average {os.getloadavg()[0]:.1f}")
    for root in [*([a.against.resolve()] if a.against else []), ROOT]:
        counts = {}
        for kind in kinds:
            def count(orders: int, kind: str = kind, root: Path = root) -> int:
                return callgrind_instructions([str(script), "--inside", kind, str(orders)], root, root, "done",
                                              a.timeout)
            counts[kind] = (count(a.large) - count(a.small)) / (a.large - a.small)
            print(f"{root}: {kind}: {counts[kind]:,.0f} instructions per order", flush=True)
        if {"log-unwritten", "log-one"} <= counts.keys():
            print(f"{root}: the log's write {counts['log-one'] - counts['log-unwritten']:,.0f}", flush=True)
        if {"log-one", "log-two"} <= counts.keys():
            print(f"{root}: the other's record read {counts['log-two'] - counts['log-one']:,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
