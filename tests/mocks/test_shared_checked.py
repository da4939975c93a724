"""The SOAP partners' shared store for `--workers`: every transaction committed before it ends, a transaction run
again when another worker changed what it read, the log read only when another worker committed. Two stores on one
SQLite file stand for two serving processes (each its own connection and lock descriptor)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mocks.shared_checked import WINDOW_TURNS, CheckedSharedStore
from mocks.shared_state import Logged
from mocks.state import Conflict


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[CheckedSharedStore, CheckedSharedStore]]:
    path = tmp_path / "blood-center.sqlite"
    first, second = CheckedSharedStore(path), CheckedSharedStore(path)
    yield first, second
    first.close()
    second.close()


def logged(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return [(str(t), str(k)) for t, k in db.execute("SELECT tbl, key FROM log ORDER BY seq")]


def count_log_reads(store: CheckedSharedStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []
    original = store._logged

    def counted() -> list[tuple[int, str, str, object]]:
        reads.append(1)
        return original()

    monkeypatch.setattr(store, "_logged", counted)
    return reads


def test_each_transaction_is_committed_before_it_ends_and_read_by_the_other(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    with first.transaction():
        first.put("orders", "H1/B1", {"status": "RECEIVED"})
        assert logged(first.path) == [], "nothing is logged before the transaction ends"
    assert logged(first.path) == [("orders", "H1/B1")]
    assert second.get("orders", "H1/B1") == {"status": "RECEIVED"}
    second.put("orders", "H1/B1", {"status": "CANCELLED"})
    assert first.get("orders", "H1/B1") == {"status": "CANCELLED"}


def test_a_transaction_whose_reads_another_worker_changed_is_run_again_and_nothing_is_lost(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    first.put("stock", "E0001", {"left": 10})
    runs: list[int] = []

    def take_one() -> int:
        left = int(second.get("stock", "E0001")["left"])
        if not runs:  # the other worker takes a unit between this read and this commit
            first.put("stock", "E0001", {"left": int(first.get("stock", "E0001")["left"]) - 1})
        runs.append(left)
        second.put("stock", "E0001", {"left": left - 1})
        return left - 1

    assert second.atomic(take_one) == 8
    assert runs == [10, 9], "run again on the other worker's result"
    assert second.conflicts == 1
    assert first.get("stock", "E0001") == {"left": 8}, "both units taken, as both workers see"


def test_a_conflicting_commit_is_undone(pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    first.put("orders", "H1/B1", {"status": "RECEIVED"})
    with pytest.raises(Conflict), second.transaction():
        assert second.get("orders", "H1/B1") == {"status": "RECEIVED"}
        first.put("orders", "H1/B1", {"status": "CANCELLED"})
        second.put("orders", "H1/B1", {"status": "ISSUED"})
        second.put("orders", "H1/B2", {"status": "RECEIVED"})
    assert second.get("orders", "H1/B1") == {"status": "CANCELLED"}
    assert second.get("orders", "H1/B2") is None
    assert logged(first.path) == [("orders", "H1/B1"), ("orders", "H1/B1")]


def test_the_log_is_read_only_when_another_worker_committed(pair: tuple[CheckedSharedStore, CheckedSharedStore],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    reads = count_log_reads(second, monkeypatch)
    for n in range(5):
        second.put("orders", f"H1/B{n}", {"n": n})
        assert second.get("orders", f"H1/B{n}") == {"n": n}
    assert reads == [], "its own commits alone: the commit counters say nobody else wrote"
    first.put("orders", "H1/X", {"n": 99})
    assert second.get("orders", "H1/X") == {"n": 99}
    assert len(reads) == 1


def test_a_commit_applies_what_another_worker_logged_after_this_transaction_began(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    with second.transaction():
        second.put("orders", "H1/B1", {"n": 1})
        first.put("orders", "H1/B2", {"n": 2})  # committed while the second's transaction runs, on another row
    assert second._realised("orders", "H1/B2") == {"n": 2}, "applied under the writer lock, without a read of its own"
    assert logged(first.path) == [("orders", "H1/B2"), ("orders", "H1/B1")]
    second.put("orders", "H1/B3", {"n": 3})  # and its next commit does not apply it twice, nor miss a row
    assert first.get("orders", "H1/B1") == {"n": 1} and first.get("orders", "H1/B3") == {"n": 3}
    assert first.revision >= 3 and second.revision >= 3


def test_another_workers_rows_stay_bytes_until_read_and_every_read_gives_documents(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    record = {"payload": "<记录><n>1</n></记录>", "reasons": [], "version": 1, "audited": False}
    first.put("records", "R1", record)
    first.put("records", "R2", {**record, "version": 2})
    first.put("records", "R3", {**record, "version": 3})
    first.put("sessions", "S1", {"org": "410105000012"})
    assert second.peek("sessions", "S1") == {"org": "410105000012"}  # caught up: the others stay bytes
    assert all(type(v) is Logged for v in second._tables["records"].values()), "not decoded on catching up"
    mine = second.get("records", "R1")
    mine["reasons"].append("changed by the caller")
    assert second.get("records", "R1") == record, "a read's copy, the row decoded once"
    assert type(second._tables["records"]["R1"]) is dict and type(second._tables["records"]["R2"]) is Logged
    assert second.atomic(lambda: second.peek("records", "R2")) == {**record, "version": 2}
    assert dict(second.items("records")) == {"R1": record, "R2": {**record, "version": 2}, "R3": {**record, "version": 3}}
    first.put("records", "R4", record)
    assert second.dump()["records"]["R4"] == record and list(second.dump()["records"]) == ["R1", "R2", "R3", "R4"]
    first.delete("records", "R4")
    assert second.get("records", "R4") is None


def test_a_bounded_tables_rows_from_another_worker_are_judged_as_documents(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    first, second = CheckedSharedStore(path), CheckedSharedStore(path)
    try:
        for number in range(4):
            first.put("orders", f"O{number}", {"status": "final" if number % 2 else "open"})
        assert second.count("orders") == 4  # caught up: rows kept as bytes
        second.bound("orders", 2, lambda order: order["status"] == "final")  # judges the rows it holds
        first.put("orders", "O4", {"status": "open"})  # judged as it is caught up
        second.put("orders", "O5", {"status": "open"})  # its commit lets the finished ones go first
        assert dict(second.items("orders")) == {"O0": {"status": "open"}, "O2": {"status": "open"},
                                                "O4": {"status": "open"}, "O5": {"status": "open"}}
    finally:
        first.close()
        second.close()


def test_a_transaction_inside_another_is_part_of_it_and_another_thread_waits_for_it(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    import threading

    first, second = pair
    seen: list[object] = []
    with first.transaction():
        first.put("orders", "H1/B1", {"n": 1})
        with pytest.raises(ValueError), first.transaction():  # a nested one: its error does not undo the outer
            first.put("orders", "H1/B2", {"n": 2})
            raise ValueError("refused")
        reader = threading.Thread(target=lambda: seen.append(first.get("orders", "H1/B2")))
        reader.start()
        reader.join(0.2)
        assert reader.is_alive(), "another thread's read waits for the transaction to end"
        assert logged(first.path) == []
    reader.join(5)
    assert seen == [{"n": 2}]
    assert logged(first.path) == [("orders", "H1/B1"), ("orders", "H1/B2")], "one commit, when the outer one ends"
    assert second.get("orders", "H1/B2") == {"n": 2}


def test_a_commit_under_way_is_not_taken_for_caught_up(pair: tuple[CheckedSharedStore, CheckedSharedStore],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction that starts while another worker is between `started` and `done` queries the log, and the one
    after it queries again (the commit may not have been visible yet): the row is never missed."""
    first, second = pair
    reads = count_log_reads(second, monkeypatch)
    count = first._counters.start()  # the first worker is about to commit
    assert second.get("orders", "H1/B1") is None
    assert len(reads) == 1, "counters unequal: a commit under way, so the log is asked"
    with first.transaction():
        first.put("orders", "H1/B1", {"n": 1})
    first._counters.finish(count + 1)
    assert second.get("orders", "H1/B1") == {"n": 1}


def test_a_worker_killed_between_its_commit_and_done_hides_nothing(
        pair: tuple[CheckedSharedStore, CheckedSharedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    assert second.get("orders", "H1/B1") is None
    monkeypatch.setattr(first._counters, "finish", lambda count: None)  # committed, then gone before `done`
    first.put("orders", "H1/B1", {"n": 1})
    assert second.get("orders", "H1/B1") == {"n": 1}
    monkeypatch.undo()
    runs: list[int] = []

    def read_then_write() -> None:
        runs.append(1)
        value = second.get("orders", "H1/B1")
        if len(runs) == 1:
            first.put("orders", "H1/B1", {"n": 2})  # changed under the second's feet
        second.put("orders", "H1/B2", {"copy": value})

    second.atomic(read_then_write)
    assert runs == [1, 1] and second.get("orders", "H1/B2") == {"copy": {"n": 2}}, "the conflict is still seen"
    assert second._counters.settled() is not None, "the next commit settles the counters again"


def test_the_counters_live_in_the_lock_file_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "mch.sqlite"
    store = CheckedSharedStore(path)
    store.put("records", "R1", {"n": 1})
    store.put("records", "R2", {"n": 2})
    store.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == \
        ["mch.sqlite", "mch.sqlite.lock"]
    assert (tmp_path / "mch.sqlite.lock").stat().st_size == 16
    again, other = CheckedSharedStore(path), CheckedSharedStore(path)
    assert again._counters.settled() == 2
    other.put("records", "R3", {"n": 3})
    assert again.get("records", "R3") == {"n": 3} and again.get("records", "R1") == {"n": 1}
    again.close()
    other.close()


# -- the commit window (`atomic_soon`) ------------------------------------------------------------------------------

def test_the_requests_of_one_turn_of_the_loop_are_committed_together_and_answered_after_the_commit(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    answered: list[tuple[int, bool]] = []

    async def request(n: int) -> None:
        def work() -> int:
            first.put("orders", f"H1/B{n}", {"n": n})
            assert logged(first.path) == [], "no request of the window is committed while it runs"
            return n

        result = await first.atomic_soon(work)
        answered.append((result, ("orders", f"H1/B{n}") in logged(first.path)))

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(5)))

    asyncio.run(main())
    assert sorted(answered) == [(n, True) for n in range(5)], "each answer comes after its row is in the file"
    assert (first.windows, first.windowed) == (1, 5), "five requests, one commit"
    assert [second.get("orders", f"H1/B{n}") for n in range(5)] == [{"n": n} for n in range(5)]


def test_requests_that_come_while_a_window_waits_share_its_commit_and_a_turn_without_one_commits_it(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    """One request a turn, as a worker's loop reads them from its connections: they join the open window instead of
    each turn committing its own; the turn after the last one commits it."""
    first, second = pair
    answered: list[tuple[int, bool]] = []

    async def request(n: int) -> None:
        await first.atomic_soon(lambda: first.put("orders", f"H1/B{n}", {"n": n}))
        answered.append((n, ("orders", f"H1/B{n}") in logged(first.path)))

    async def main() -> int:
        tasks = []
        for n in range(3):
            tasks.append(asyncio.ensure_future(request(n)))
            await asyncio.sleep(0)
        assert answered == [], "no answer while each turn brings the window another request"
        turns = 0
        while not all(task.done() for task in tasks):
            await asyncio.sleep(0)
            turns += 1
        return turns

    assert asyncio.run(main()) <= 3, "answered within a few turns once no request came"
    assert sorted(answered) == [(n, True) for n in range(3)], "each answer comes after its row is in the file"
    assert (first.windows, first.windowed) == (1, 3), "three turns' requests, one commit"
    assert [second.get("orders", f"H1/B{n}") for n in range(3)] == [{"n": n} for n in range(3)]


def test_a_window_that_every_turn_brings_requests_to_commits_after_window_turns_turns(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, _ = pair
    answered_at: dict[int, int] = {}
    turn = 0

    async def request(n: int) -> None:
        await first.atomic_soon(lambda: first.put("orders", f"H1/B{n}", {"n": n}))
        answered_at[n] = turn

    async def main() -> None:
        nonlocal turn
        tasks = []
        for n in range(4 * WINDOW_TURNS):
            tasks.append(asyncio.ensure_future(request(n)))
            await asyncio.sleep(0)
            turn += 1
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert answered_at[0] <= WINDOW_TURNS + 3, "the first request is not held for as long as others keep coming"
    assert first.windows >= 3 and first.windowed == 4 * WINDOW_TURNS
    assert [key for key, _ in first.items("orders")] == [f"H1/B{n}" for n in range(4 * WINDOW_TURNS)]


def test_a_later_request_of_the_window_reads_an_earlier_ones_writes(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair
    first.put("counters", "record", 0)

    def draw() -> int:
        number = int(first.get("counters", "record")) + 1
        first.put("counters", "record", number)
        return number

    async def main() -> list[int]:
        return list(await asyncio.gather(*(first.atomic_soon(draw) for _ in range(4))))

    assert asyncio.run(main()) == [1, 2, 3, 4]
    assert second.get("counters", "record") == 4
    assert first.conflicts == 0


def stock_taker(store: CheckedSharedStore, runs: list[int]) -> Callable[[], int]:
    """Ten units in stock; a transaction taking one, noting each run's reading in `runs`."""
    store.put("stock", "E0001", {"left": 10})

    def take_one() -> int:
        left = int(store.get("stock", "E0001")["left"])
        runs.append(left)
        store.put("stock", "E0001", {"left": left - 1})
        return left - 1

    return take_one


@pytest.mark.parametrize("read_meanwhile", [False, True], ids=["at-its-commit", "caught-up-by-a-read"])
def test_a_window_whose_reads_another_worker_changed_is_run_again_and_answered_from_that_run(
        pair: tuple[CheckedSharedStore, CheckedSharedStore], read_meanwhile: bool) -> None:
    """The other worker's change is found when the window commits, or earlier, when a read on the loop catches up
    (which reads a row the window did not write without committing the window)."""
    first, second = pair
    runs: list[int] = []
    take_one = stock_taker(first, runs)

    async def main() -> int:
        task = asyncio.ensure_future(first.atomic_soon(take_one))
        await asyncio.sleep(0)  # the request has run on memory; its window commits on the next turn
        assert runs == [10] and not task.done()
        second.put("sessions", "S1", {"org": "H1"})
        second.put("stock", "E0001", {"left": 5})  # the other worker takes five meanwhile
        if read_meanwhile:
            before = logged(first.path)
            assert first.get("sessions", "S1") == {"org": "H1"}, "the other worker's session, caught up at once"
            assert logged(first.path) == before, "a row the window did not write: read without committing the window"
            assert first._tables["stock"]["E0001"] == {"left": 9}, "a row the window wrote: held back until it commits"
        return await task

    assert asyncio.run(main()) == 4
    assert runs == [10, 5], "run again on the other worker's result"
    assert first.conflicts == 1 and first.windows == 0
    assert second.get("stock", "E0001") == {"left": 4}


def test_a_read_of_a_row_the_window_wrote_or_a_transaction_outside_it_commits_the_window_first(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, _ = pair

    async def main() -> None:
        task = asyncio.ensure_future(first.atomic_soon(lambda: first.put("orders", "H1/B1", {"n": 1})))
        await asyncio.sleep(0)
        assert logged(first.path) == []
        assert first.get("orders", "H1/B1") == {"n": 1}
        assert logged(first.path) == [("orders", "H1/B1")], "committed before its row was shown"
        await task
        task = asyncio.ensure_future(first.atomic_soon(lambda: first.put("orders", "H1/B2", {"n": 2})))
        await asyncio.sleep(0)
        assert [key for key, _ in first.items("orders")] == ["H1/B1", "H1/B2"]
        assert logged(first.path)[-1] == ("orders", "H1/B2")
        await task

    asyncio.run(main())
    assert first.windows == 2


def test_a_refused_request_of_the_window_leaves_nothing_and_gets_its_refusal_after_the_commit(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, second = pair

    def refused() -> None:
        first.put("orders", "H1/BAD", {"n": 0})
        raise ValueError("订单内容不符")

    async def main() -> list[object]:
        return list(await asyncio.gather(first.atomic_soon(lambda: first.put("orders", "H1/B1", {"n": 1})),
                                         first.atomic_soon(refused), return_exceptions=True))

    ok, error = asyncio.run(main())
    assert ok is None and isinstance(error, ValueError) and str(error) == "订单内容不符"
    assert logged(first.path) == [("orders", "H1/B1")]
    assert second.get("orders", "H1/BAD") is None and first.get("orders", "H1/BAD") is None


def test_a_read_outside_a_transaction_sees_the_other_workers_commit_and_asks_the_log_only_then(
        pair: tuple[CheckedSharedStore, CheckedSharedStore], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair
    first.put("sessions", "k1", {"org": "A", "expires": 1})
    reads = count_log_reads(second, monkeypatch)
    assert second.peek("sessions", "k1") == {"org": "A", "expires": 1} and len(reads) == 1
    assert second.get("sessions", "k1") == {"org": "A", "expires": 1} and len(reads) == 1  # nothing new: no query
    first.put("sessions", "k1", {"org": "A", "expires": 0})
    assert second.peek("sessions", "k1") == {"org": "A", "expires": 0} and len(reads) == 2
    copy = second.get("sessions", "k1")
    copy["expires"] = 99  # a copy: the store keeps its own
    assert second.peek("sessions", "k1") == {"org": "A", "expires": 0}
    assert second.peek("sessions", "nobody") is None and second.get("sessions", "nobody") is None


def test_a_peek_shows_nothing_the_open_window_has_not_committed(
        pair: tuple[CheckedSharedStore, CheckedSharedStore]) -> None:
    first, _ = pair
    first.put("sessions", "k1", {"org": "A"})

    async def main() -> None:
        task = asyncio.ensure_future(first.atomic_soon(lambda: first.put("orders", "H1/B1", {"n": 1})))
        await asyncio.sleep(0)
        assert first.peek("sessions", "k1") == {"org": "A"}
        assert logged(first.path) == [("sessions", "k1")], "a row the window did not write: read without committing it"
        assert first.peek("orders", "H1/B1") == {"n": 1}
        assert logged(first.path)[-1] == ("orders", "H1/B1"), "committed before its row was shown"
        await task

    asyncio.run(main())
