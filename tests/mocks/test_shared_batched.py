"""The MLLP partners' shared store for `--workers`: writes logged once per event-loop turn, read by the other
workers when they change the file, kept across a restart."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mocks.shared_batched import BatchedSharedStore


def logged(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM log").fetchone()[0])


def test_outside_an_event_loop_each_transaction_is_logged_at_once(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = BatchedSharedStore(path), BatchedSharedStore(path)
    first.put("orders", "P1", {"status": "received"})
    assert logged(path) == 1
    assert second.get("orders", "P1") == {"status": "received"}
    second.put("orders", "P1", {"status": "cancelled"})
    assert first.get("orders", "P1") == {"status": "cancelled"}
    first.close()
    second.close()


def test_the_writes_of_one_loop_turn_are_one_commit_at_its_end(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    worker, other = BatchedSharedStore(path), BatchedSharedStore(path)

    async def turn() -> tuple[int, object, int]:
        for n in range(5):
            with worker.transaction():
                worker.put("orders", f"P{n}", {"n": n})
        worker.put("patients", "MRN1", {"events": ["OML^O21"]})
        seen_inside = other.get("orders", "P0")  # the other worker: not logged before the turn ends
        rows_inside = logged(path)
        await asyncio.sleep(0)
        return rows_inside, seen_inside, logged(path)

    rows_inside, seen_inside, rows_after = asyncio.run(turn())
    assert (rows_inside, seen_inside, rows_after) == (0, None, 6)
    assert worker.get("orders", "P4") == {"n": 4}, "the worker itself reads its writes at once"
    assert [other.get("orders", f"P{n}") for n in range(5)] == [{"n": n} for n in range(5)]
    assert other.get("patients", "MRN1") == {"events": ["OML^O21"]}
    worker.close()
    other.close()


def test_under_load_a_commit_waits_for_the_gap_after_the_last_and_logs_every_turn_since(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    worker, other = BatchedSharedStore(path), BatchedSharedStore(path)
    worker.FLUSH_GAP_S = 0.5  # wide, so that a slow machine still runs the next turns within it

    async def turns() -> tuple[int, int, object, int]:
        worker.put("orders", "P0", {"n": 0})
        await asyncio.sleep(0)  # the first commit: at the end of its turn, as at a low rate
        first = logged(path)
        for n in (1, 2):
            worker.put("orders", f"P{n}", {"n": n})
            await asyncio.sleep(0)
        within = logged(path)
        seen_within = other.get("orders", "P1")
        await asyncio.sleep(0.7)
        return first, within, seen_within, logged(path)

    first, within, seen_within, after = asyncio.run(turns())
    assert (first, within, seen_within, after) == (1, 1, None, 3)
    assert [other.get("orders", f"P{n}") for n in range(3)] == [{"n": n} for n in range(3)]
    worker.close()
    other.close()


def test_a_row_written_on_both_sides_ends_the_same_everywhere_the_later_log_row_winning(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = BatchedSharedStore(path), BatchedSharedStore(path)

    async def both() -> None:
        first.put("patients", "MRN1", {"name": "first"})
        second.put("patients", "MRN1", {"name": "second"})
        assert first.get("patients", "MRN1") == {"name": "first"}, "its own write, not yet logged, stands"
        await asyncio.sleep(0)  # first logs, then second (scheduled in that order)

    asyncio.run(both())
    assert first.get("patients", "MRN1") == second.get("patients", "MRN1") == {"name": "second"}
    third = BatchedSharedStore(path)
    assert third.get("patients", "MRN1") == {"name": "second"}
    for store in (first, second, third):
        store.close()


def test_a_failed_transaction_logs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    store = BatchedSharedStore(path)
    store.put("orders", "P1", {"status": "received"})
    with pytest.raises(RuntimeError), store.transaction():
        store.put("orders", "P1", {"status": "cancelled"})
        store.put("orders", "P2", {"status": "received"})
        raise RuntimeError("refused")
    assert store.get("orders", "P1") == {"status": "received"} and store.get("orders", "P2") is None
    assert logged(path) == 1
    store.close()


def test_what_is_pending_at_close_is_logged_and_found_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    store = BatchedSharedStore(path)

    async def write_and_close() -> None:
        store.put("orders", "P1", {"status": "received"})
        store.delete("orders", "gone")
        store.close()  # before the turn ends

    asyncio.run(write_and_close())
    again = BatchedSharedStore(path)
    assert again.get("orders", "P1") == {"status": "received"}
    again.close()


def test_a_worker_that_reloads_the_whole_file_keeps_its_own_pending_writes(tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = BatchedSharedStore(path), BatchedSharedStore(path)
    second.KEEP_LOG, second.FOLD_EVERY = 0, 2  # the log behind each fold is dropped: a worker behind it reloads

    async def turn() -> None:
        first.put("orders", "mine", {"by": "first"})  # pending until the turn ends
        for n in range(3):
            second.put("orders", f"S{n}", {"by": "second"})
            second.flush()  # S1 folds the log and drops it; S2 is logged after the gap
        assert first.get("orders", "S0") == {"by": "second"}, "reloaded from the file"
        assert first.get("orders", "mine") == {"by": "first"}, "and its own write still stands"
        await asyncio.sleep(0)

    asyncio.run(turn())
    assert [first.get("orders", f"S{n}") for n in range(3)] == [{"by": "second"}] * 3
    assert second.get("orders", "mine") == {"by": "first"}
    first.close()
    second.close()
