"""The MLLP partners' store for `--workers`: each worker appends to a log of its own and reads the others' before
each transaction and read, so what one worker answered the next read of any other sees; bounded logs, the state
file kept, the same rows as one store would hold."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocks import shared_logs
from mocks.lazy_logs import LazyLogStore
from mocks.shared_logs import WorkerLogStore, log_path
from mocks.state import SqliteStore, Store
from tests.strategies import examples

Kind = type[WorkerLogStore]
STORES: list[Kind] = [WorkerLogStore, LazyLogStore]
"""Every test runs on both: the rows of the other workers applied as read (eager) and kept as bytes until read."""


@pytest.fixture(params=STORES, ids=["eager", "lazy"])
def kind(request: pytest.FixtureRequest) -> Kind:
    store: Kind = request.param
    return store


def pair(kind: Kind, path: Path, durable: bool = False) -> tuple[WorkerLogStore, WorkerLogStore]:
    first = kind(path, durable=durable, worker=(0, 2))
    return first, kind(path, durable=durable, worker=(1, 2))


def test_what_one_worker_wrote_the_other_reads_at_once_with_no_loop_turn(kind: Kind, tmp_path: Path) -> None:
    first, second = pair(kind, tmp_path / "lis.sqlite")
    first.put("orders", "P1", {"status": "received"})
    assert second.peek("orders", "P1") == {"status": "received"}, "in the log before the writer answered"
    with second.transaction():
        assert second.peek("orders", "P1") == {"status": "received"}
        second.put("orders", "P1", {"status": "cancelled"})
        second.put("patients", "MRN1", {"events": ["OML^O21"]})
    assert first.get("orders", "P1") == {"status": "cancelled"}
    assert first.items("patients") == [("MRN1", {"events": ["OML^O21"]})]
    second.delete("orders", "P1")
    assert first.get("orders", "P1") is None and first.count("orders") == 0
    first.close()
    second.close()


@pytest.mark.parametrize("preadv", [True, False], ids=["preadv", "pread"])
def test_records_cut_by_the_read_buffer_and_records_larger_than_it_are_read_whole(kind: type[WorkerLogStore],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preadv: bool) -> None:
    """The reader's buffer (READ_CHUNK) is filled again for each read: a record cut at its end is kept and joined
    with the next read, and one larger than the buffer takes several reads (with preadv, and without it)."""
    if not preadv:
        monkeypatch.setattr(shared_logs, "_PREADV", None)
    first, second = pair(kind, tmp_path / "lis.sqlite")
    rows = {f"P{n}": {"n": n, "text": "医嘱" * (n % 700)} for n in range(400)}
    rows["BIG"] = {"text": "x" * (shared_logs.READ_CHUNK * 2 + 17)}
    for key, value in rows.items():
        first.put("orders", key, value)
    assert sum(len(json.dumps(v)) for v in rows.values()) > 4 * shared_logs.READ_CHUNK
    assert dict(second.items("orders")) == rows
    first.put("orders", "P1", {"n": -1})
    assert second.get("orders", "P1") == {"n": -1}, "read on from where the cut record ended"
    first.close()
    second.close()


def test_a_scratch_state_makes_no_sqlite_file_and_a_closed_worker_leaves_no_log(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path)
    first.put("orders", "P1", {"n": 1})
    assert not path.exists()
    assert log_path(path, 0, 0).stat().st_size > 0 and log_path(path, 1, 0).exists()
    first.close()
    second.close()
    assert list(tmp_path.iterdir()) == []


def test_a_rolled_back_transaction_logs_nothing(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path)
    with pytest.raises(RuntimeError), first.transaction():
        first.put("orders", "P1", {"n": 1})
        raise RuntimeError("refused")
    assert first.get("orders", "P1") is None and second.get("orders", "P1") is None
    assert log_path(path, 0, 0).stat().st_size == 0
    first.close()
    second.close()


def test_a_row_both_wrote_before_reading_the_other_ends_the_same_everywhere(kind: Kind, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair(kind, tmp_path / "lis.sqlite")
    first.put("orders", "P1", {"by": "first"})
    with monkeypatch.context() as patched:  # the second writes before it has read the first's record
        patched.setattr(second, "_catch_up", lambda: None)
        second.put("orders", "P1", {"by": "second"})
    first.sync()
    second.sync()
    assert first.get("orders", "P1") == second.get("orders", "P1") == {"by": "second"}, "the later stamp wins"
    first.close()
    second.close()


def fill(writer: WorkerLogStore, orders: int, generation_bytes: int, reader: WorkerLogStore | None = None) -> None:
    """`orders` orders written through `writer`, whose log generations hold `generation_bytes`; `reader` reads
    after every seventh."""
    writer.MAX_LOG_BYTES = generation_bytes
    for n in range(orders):
        writer.put("orders", f"P{n:03d}", {"n": n, "text": "x" * 100})
        if reader is not None and n % 7 == 0:
            reader.sync()


def test_a_log_goes_on_in_generations_and_the_reader_follows(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path)
    fill(first, 60, 2_000, second)
    assert first._generation >= 3
    kept = sorted(p.name for p in tmp_path.glob("lis.sqlite.w0.*.log"))
    assert kept == [log_path(path, 0, g).name for g in (first._generation - 1, first._generation)], \
        "two generations kept, older ones removed"
    assert [v["n"] for _, v in second.items("orders")] == list(range(60))
    assert not second.problems
    first.close()
    second.close()


def test_a_reader_more_than_a_generation_behind_says_so_and_reads_on(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path)
    fill(first, 40, 500)
    second.sync()
    assert second.problems and "日志" in second.problems[0].reason
    first.put("orders", "LAST", {"n": 99})
    assert second.get("orders", "LAST") == {"n": 99}
    first.close()
    second.close()


def test_with_a_state_file_the_rows_reach_it_and_a_restart_finds_them(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path, durable=True)
    first.put("orders", "P1", {"status": "received"})
    second.put("orders", "P2", {"status": "received"})
    second.delete("orders", "P1")
    first.close()
    second.close()
    again = SqliteStore(path)  # the `--state` format: one process serves it too
    assert again.dump() == {"orders": {"P2": {"status": "received"}}}
    again.close()
    third = kind(path, durable=True)
    assert third.get("orders", "P2") == {"status": "received"}
    third.close()


def test_the_state_file_keeps_the_later_write_of_a_row_whoever_commits_first(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = pair(kind, path, durable=True)

    async def both() -> None:
        first.put("orders", "P1", {"by": "first"})  # waits DURABLE_FLUSH_S for the state file
        second.put("orders", "P1", {"by": "second"})
        second.flush()
        await asyncio.sleep(first.DURABLE_FLUSH_S * 2)

    asyncio.run(both())
    with sqlite3.connect(path) as db:
        kept = db.execute("SELECT value FROM docs WHERE tbl = 'orders' AND key = 'P1'").fetchone()
    assert json.loads(kept[0]) == {"by": "second"}
    first.close()
    second.close()


def test_a_bound_lets_the_other_workers_rows_go_too(kind: Kind, tmp_path: Path) -> None:
    first, second = pair(kind, tmp_path / "lis.sqlite")
    second.bound("orders", 5, lambda row: row.get("status") == "final")
    for n in range(12):
        first.put("orders", f"P{n:02d}", {"status": "final"})
    assert second.count("orders") == 5 and second.evicted["orders"] == 7
    first.close()
    second.close()


def test_a_reset_of_one_worker_empties_the_others(kind: Kind, tmp_path: Path) -> None:
    first, second = pair(kind, tmp_path / "lis.sqlite")
    first.put("orders", "P1", {"n": 1})
    second.put("patients", "M1", {"n": 2})
    first.clear()
    assert second.count("orders") == 0 and second.count("patients") == 0
    first.close()
    second.close()


def test_a_state_file_of_another_program_is_refused_in_one_line(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (id INTEGER)")
    from mocks.state import StateError

    with pytest.raises(StateError, match="another program"):
        kind(path, durable=True)


def write(store: Store, op: str, table: str, key: str, value: dict[str, int]) -> None:
    if op == "delete":
        store.delete(table, key)
    else:
        store.put(table, key, value)
    if op == "fail":
        raise ValueError("refused")


KEYS = st.sampled_from(["P1", "P2", "P3", "M1"])
OPS = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(["put", "delete", "fail"]),
                         st.sampled_from(["orders", "patients"]), KEYS, st.integers(0, 99)), max_size=40)


@pytest.mark.parametrize("kind", STORES, ids=["eager", "lazy"])
@settings(max_examples=examples(60), deadline=None)
@given(ops=OPS)
def test_two_workers_hold_what_one_store_holds_for_any_sequence_of_writes(
        kind: Kind, tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[int, str, str, str, int]]) -> None:
    path = tmp_path_factory.mktemp("logs") / "lis.sqlite"
    workers = pair(kind, path)
    one = Store()
    for worker, op, table, key, value in ops:
        for store in (workers[worker], one):
            try:
                store.atomic(partial(write, store, op, table, key, {"v": value, "by": worker}))
            except ValueError:
                pass
    expected: dict[str, dict[str, Any]] = {t: dict(rows) for t, rows in one.dump().items() if rows}
    for store in workers:
        assert {t: dict(rows) for t, rows in store.dump().items() if rows} == expected
    for store in workers:
        store.close()


def test_a_write_the_log_refuses_is_undone_in_memory_too(kind: Kind, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair(kind, tmp_path / "lis.sqlite")
    first.put("orders", "P1", {"n": 1})

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr("mocks.shared_logs.os.write", full)
        with pytest.raises(OSError), first.transaction():
            first.put("orders", "P1", {"n": 2})
            first.put("orders", "P2", {"n": 2})
    assert first.dump() == second.dump() == {"orders": {"P1": {"n": 1}}}, "no worker holds what was not logged"
    first.put("orders", "P2", {"n": 3})
    assert second.get("orders", "P2") == {"n": 3}
    first.close()
    second.close()


def test_a_state_file_row_that_cannot_be_read_is_listed_not_served(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    kept = SqliteStore(path)
    kept.put("orders", "P1", {"status": "received"})
    kept.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO docs (tbl, key, value) VALUES ('orders', 'BAD', ?)", ("[" * 10_000 + "]" * 10_000,))
    store = kind(path, durable=True)
    assert store.get("orders", "P1") == {"status": "received"} and store.get("orders", "BAD") is None
    assert [(p.table, p.key) for p in store.problems] == [("orders", "BAD")]
    store.close()
