"""`LazyLogStore`: the other workers' rows kept as bytes until read answer every read, transaction and bound exactly
as `WorkerLogStore` (which applies them as it reads the logs) does: the eager store is the oracle."""

from __future__ import annotations

import gc
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocks.lazy_logs import LazyLogStore
from mocks.shared_logs import WorkerLogStore
from tests.strategies import examples


def finished(row: dict[str, Any]) -> bool:
    return row.get("status") in ("final", "cancelled")


def workers(kind: type[WorkerLogStore], path: Path, bounded: tuple[bool, bool], limit: int) -> list[WorkerLogStore]:
    stores = [kind(path, durable=False, worker=(index, 2)) for index in range(2)]
    for store, bound in zip(stores, bounded, strict=True):
        if bound:
            store.bound("orders", limit, finished)
    return stores


def step(store: WorkerLogStore, op: str, table: str, key: str, value: dict[str, Any]) -> Any:
    """One operation in one transaction: what it read (a write reads the row first, as the LIS does)."""
    if op == "peek":
        return store.peek(table, key)
    if op == "get":
        return store.get(table, key)
    if op == "items":
        return store.items(table)
    if op == "count":
        return store.count(table)
    seen = store.peek(table, key)
    if op == "delete":
        store.delete(table, key)
    else:
        store.put(table, key, {**value, "before": (seen or {}).get("status", "")})
    if op == "fail":
        raise ValueError("refused")
    return seen


OPS = st.lists(st.tuples(st.integers(0, 1),
                         st.sampled_from(["put", "put", "put", "delete", "fail", "peek", "get", "items", "count"]),
                         st.sampled_from(["orders", "orders", "patients"]), st.sampled_from(["P1", "P2", "P3", "M1"]),
                         st.sampled_from(["received", "final", "cancelled"]),
                         st.lists(st.text(max_size=3), max_size=3)), max_size=50)


@settings(max_examples=examples(150), deadline=None)
@given(ops=OPS, bounded=st.sampled_from([(False, False), (True, True), (False, True), (True, False)]),
       limit=st.integers(1, 2))
def test_every_read_and_the_rows_kept_are_the_eager_stores(tmp_path_factory: pytest.TempPathFactory,
                                                           ops: list[tuple[int, str, str, str, str, list[str]]],
                                                           bounded: tuple[bool, bool], limit: int) -> None:
    """Any sequence of writes, failed transactions and reads through either of two workers, with the orders bounded
    in both, in one or in neither (a worker that bounds no table leaves its rows to be judged by the reader)."""
    folder = tmp_path_factory.mktemp("lazy")
    eager = workers(WorkerLogStore, folder / "eager.sqlite", bounded, limit)
    lazy = workers(LazyLogStore, folder / "lazy.sqlite", bounded, limit)
    for worker, op, table, key, status, tests in ops:
        value = {"status": status, "tests": tuple(tests)}
        answers = []
        for stores in (eager, lazy):
            store = stores[worker]
            try:
                answers.append(("read", store.atomic(partial(step, store, op, table, key, value))))
            except ValueError:
                answers.append(("refused", None))
        assert answers[1] == answers[0], (op, table, key)
    for one, other in zip(eager, lazy, strict=True):
        assert other.dump() == one.dump()
        assert other.evicted == one.evicted
        assert [other.count(t) for t in ("orders", "patients")] == [one.count(t) for t in ("orders", "patients")]
    for store in eager + lazy:
        store.close()


def test_the_other_workers_orders_leave_nothing_for_the_collector_until_read(tmp_path: Path) -> None:
    """The purpose: a worker that catches up on 2,000 orders of another holds them as bytes (untracked), where the
    eager store holds their dicts and lists; one looked up is decoded whole."""
    tracked = {}
    for kind in (WorkerLogStore, LazyLogStore):
        first, second = workers(kind, tmp_path / f"{kind.__name__}.sqlite", (True, True), 10_000)
        for n in range(2_000):
            first.put("orders", f"P{n}", {"status": "received", "patient": {"mrn": "M1", "name": "张三"},
                                          "tests": [["CBC", "血常规"]]})
        gc.collect()
        before = len(gc.get_objects())
        assert second.count("orders") == 2_000
        gc.collect()
        tracked[kind] = len(gc.get_objects()) - before
        assert second.peek("orders", "P1999") == {"status": "received", "patient": {"mrn": "M1", "name": "张三"},
                                                  "tests": [["CBC", "血常规"]]}
        first.close()
        second.close()
    # about three tracked objects an order (the row, its tests and their inner list; a dict of strings alone is
    # untracked); objects freed elsewhere in the process meanwhile lower the difference, hence two
    assert tracked[WorkerLogStore] >= 2_000 * 2, tracked
    assert tracked[LazyLogStore] < 200, tracked


def test_a_row_kept_as_bytes_is_decoded_from_its_own_bytes_and_a_read_copy_is_the_callers(tmp_path: Path) -> None:
    first, second = workers(LazyLogStore, tmp_path / "lis.sqlite", (False, False), 1)
    with first.transaction():
        first.put("orders", "P1", {"status": "received", "tests": (("CBC", "血常规"),)})
        first.put("patients", "M1", {"events": ("OML^O21",)})
    assert second.peek("patients", "M1") == {"events": ["OML^O21"]}
    got = second.get("orders", "P1")
    got["status"] = "changed by the caller"
    assert second.get("orders", "P1") == {"status": "received", "tests": [["CBC", "血常规"]]}
    first.close()
    second.close()


def test_a_row_peeked_on_a_transactions_path_is_decoded_once(tmp_path: Path) -> None:
    """A patient another worker wrote is read by every order here (its fields, its events): decoded at the first
    peek and kept so, its place and its bound's verdict unchanged, until a worker writes it again."""
    first, second = workers(LazyLogStore, tmp_path / "lis.sqlite", (True, True), 2)
    with first.transaction():
        first.put("orders", "P1", {"status": "final"})
        first.put("orders", "P2", {"status": "received"})
    read = second.atomic(lambda: second.peek("orders", "P1"))
    assert read == {"status": "final"}
    assert second.atomic(lambda: second.peek("orders", "P1")) is read, "not decoded again"
    with second.transaction():
        second.put("orders", "P3", {"status": "received"})
    assert [k for k, _ in second.items("orders")] == ["P2", "P3"], "the finished row went first, as bytes would"
    with first.transaction():
        first.put("orders", "P2", {"status": "cancelled"})
    assert second.atomic(lambda: second.peek("orders", "P2")) == {"status": "cancelled"}
    first.close()
    second.close()
