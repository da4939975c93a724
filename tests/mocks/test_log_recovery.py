"""What the workers of a killed run left beside the `--state` file is read back at the next start
(`mocks.log_recovery`): a per-worker log's records past its writer's last flush, each row's latest write by stamp;
a SOAP partners' log not yet folded. Two stores on one file stand for two serving processes; `killed` leaves their
files as a kill does (nothing flushed, nothing removed)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from mocks.insurance_store import NONCES, InsuranceLogStore
from mocks.lazy_logs import LazyLogStore
from mocks.shared_logs import WorkerLogStore, log_path
from mocks.shared_state import SharedSqliteStore
from mocks.state import SqliteStore

Kind = type[WorkerLogStore]


@pytest.fixture(params=[WorkerLogStore, LazyLogStore, InsuranceLogStore], ids=["eager", "lazy", "insurance"])
def kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Kind:
    """A store class whose flushes wait to be asked for (on a worker's loop one is due 0.2 s after a write)."""
    store: Kind = request.param
    monkeypatch.setattr(store, "_schedule", lambda self: None)
    return store


def workers(kind: Kind, path: Path) -> tuple[WorkerLogStore, WorkerLogStore]:
    return kind(path, worker=(0, 2)), kind(path, worker=(1, 2))


def killed(*stores: WorkerLogStore) -> None:
    """What SIGKILL leaves of `stores`: their descriptors closed by the kernel, the logs and the file as they were."""
    for store in stores:
        for reader in store._readers:
            os.close(reader.fd)
        os.close(store._out)
        if isinstance(store, InsuranceLogStore):
            os.close(store._people)
        assert store._db is not None and store.writer is not None
        store._db.close()
        store.writer.close()


def in_file(path: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(path) as db:
        return {(str(t), str(k)): str(v) for t, k, v in db.execute("SELECT tbl, key, value FROM docs")}


def restarted(kind: Kind, path: Path) -> WorkerLogStore:
    """The next run's first worker, here its only one (it reads the logs back, then starts its own)."""
    return kind(path, worker=(0, 1))


def test_rows_a_killed_worker_answered_and_never_flushed_are_in_the_next_start(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = workers(kind, path)
    first.put("orders", "A", {"n": 1})
    second.put("orders", "B", {"n": 2})
    second.flush()
    first.put("orders", "C", {"n": 3})
    first.put("orders", "A", {"n": 4})
    killed(first, second)
    assert ("orders", "C") not in in_file(path)

    again = restarted(kind, path)
    assert again.recovered == 2  # A and C: B was flushed
    assert {k: v["n"] for k, v in again.items("orders")} == {"A": 4, "B": 2, "C": 3}
    again.close()
    kept = SqliteStore(path)
    assert {k: v["n"] for k, v in kept.items("orders")} == {"A": 4, "B": 2, "C": 3}
    kept.close()
    assert not list(tmp_path.glob("*.log"))


def test_a_row_deleted_after_the_last_flush_stays_deleted(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = workers(kind, path)
    first.put("orders", "A", {"n": 1})
    first.flush()
    second.delete("orders", "A")
    killed(first, second)
    again = restarted(kind, path)
    assert again.get("orders", "A") is None and ("orders", "A") not in in_file(path)
    again.close()


def test_an_unflushed_write_gives_way_to_a_later_flushed_write_of_the_other_worker(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = workers(kind, path)
    first.put("orders", "X", {"n": 1})  # not flushed
    second.put("orders", "X", {"n": 2})  # read the first's record before: stamped later
    second.flush()
    second.put("orders", "Y", {"n": 1})
    second.flush()
    first.put("orders", "Y", {"n": 2})  # later than the second's flushed Y, never flushed
    killed(first, second)
    again = restarted(kind, path)
    assert again.get("orders", "X") == {"n": 2} and again.get("orders", "Y") == {"n": 2}
    again.close()


def test_a_write_before_its_writers_mark_never_replaces_a_later_one_whose_log_is_gone(
        kind: Kind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first worker wrote X long ago (flushed); the second wrote X since and so much more that its first log
    generations were removed: read again, the first's old X would replace the later one."""
    monkeypatch.setattr(kind, "MAX_LOG_BYTES", 200)
    path = tmp_path / "lis.sqlite"
    first, second = workers(kind, path)
    first.put("orders", "X", {"n": 1})
    first.flush()
    second.put("orders", "X", {"n": 2})
    for n in range(40):
        second.put("filler", str(n), {"text": "x" * 20})
    second.flush()
    assert not log_path(path, 1, 0).exists()
    killed(first, second)
    again = restarted(kind, path)
    assert again.get("orders", "X") == {"n": 2}
    again.close()


def test_a_record_cut_short_by_the_kill_is_left_out(kind: Kind, tmp_path: Path) -> None:
    path = tmp_path / "lis.sqlite"
    first, second = workers(kind, path)
    first.put("orders", "A", {"n": 1})
    killed(first, second)
    with log_path(path, 0, 0).open("ab") as log:
        log.write(b"\xff\x00\x00\x00[1,")  # the start of a record whose write the kill ended
    again = restarted(kind, path)
    assert again.get("orders", "A") == {"n": 1} and again.problems == []
    again.close()


def test_the_ledgers_nonces_are_not_rows_of_the_state_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(InsuranceLogStore, "_schedule", lambda self: None)
    path = tmp_path / "insurance.sqlite"
    first, second = InsuranceLogStore(path, worker=(0, 2)), InsuranceLogStore(path, worker=(1, 2))
    first.add_nonce("n-1", 2**40)
    first.flush_nonces()
    first.put("visits", "V1", {"psn_no": "P1"})
    killed(first, second)
    again = InsuranceLogStore(path, worker=(0, 2))
    assert again.get("visits", "V1") == {"psn_no": "P1"}
    assert not [row for row in in_file(path) if row[0] == NONCES]
    again.close()


def test_a_file_of_the_soap_partners_workers_is_read_whole_by_one_process(tmp_path: Path) -> None:
    """Their shared log is folded into the `--state` rows every 2,000 rows and when a worker stops; a file whose
    workers were killed is folded by `recover` before one process serves it."""
    path = tmp_path / "blood-center.sqlite"
    first, second = SharedSqliteStore(path), SharedSqliteStore(path)
    first.put("orders", "A", {"n": 1})
    second.put("orders", "B", {"n": 2})
    first.close()
    second.close()
    kept = SqliteStore(path)
    assert {k: v["n"] for k, v in kept.items("orders")} == {"A": 1, "B": 2}
    kept.close()

    third = SharedSqliteStore(path)
    third.put("orders", "C", {"n": 3})
    third._db.close()  # killed: no fold
    third.writer.close()
    assert ("orders", "C") not in in_file(path)
    SharedSqliteStore.recover(path)
    kept = SqliteStore(path)
    assert {k: v["n"] for k, v in kept.items("orders")} == {"A": 1, "B": 2, "C": 3}
    kept.close()
