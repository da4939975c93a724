"""Mock state: the in-memory Store and the SQLite (WAL) store that survives restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from harness.contract.model import Contract
from mocks.insurance import InsuranceMock
from mocks.state import SqliteStore, Store, open_store
from mocks.transport.runtime import Runtime
from tests.conftest import FEES_TOTAL, Wire


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store() if request.param == "memory" else SqliteStore(tmp_path / "state.sqlite")
    yield store
    store.close()


def test_tables_of_documents(any_store: Store) -> None:
    any_store.put("visits", "V1", {"status": "registered", "fees": {"F1": "12.50"}})
    any_store.put("visits", "V2", {"status": "settled"})
    any_store.put("balances", "P1", "1500.00")

    assert any_store.get("visits", "V1") == {"status": "registered", "fees": {"F1": "12.50"}}
    assert any_store.get("visits", "nope") is None and any_store.get("nothing", "V1") is None
    assert any_store.count("visits") == 2 and any_store.count("nothing") == 0
    assert sorted(k for k, _ in any_store.items("visits")) == ["V1", "V2"]
    any_store.delete("visits", "V2")
    any_store.delete("visits", "never-there")
    assert any_store.dump() == {"visits": {"V1": {"status": "registered", "fees": {"F1": "12.50"}}},
                                "balances": {"P1": "1500.00"}}
    any_store.clear()
    assert any_store.dump() == {}


def test_a_document_stored_with_tuples_is_read_with_lists_as_from_json(any_store: Store) -> None:
    """A hot path may keep a document's fixed arrays as tuples; every store reads them back as JSON gives them."""
    any_store.put("orders", "P1", {"tests": (("CBC", "血常规"),), "results": (), "sender": ("HIS", "HOSP")})
    read = any_store.get("orders", "P1")
    assert read == {"tests": [["CBC", "血常规"]], "results": [], "sender": ["HIS", "HOSP"]}
    read["results"].append({"status": "F"})  # a reader's copy takes changes; the store's does not
    assert any_store.get("orders", "P1")["results"] == []
    assert any_store.items("orders") == [("P1", {"tests": [["CBC", "血常规"]], "results": [], "sender": ["HIS", "HOSP"]})]


def test_a_failed_transaction_leaves_nothing_behind(any_store: Store) -> None:
    """`transaction()` makes a group of writes atomic: an exception inside undoes all of them."""
    any_store.put("balances", "P1", "1500.00")

    with pytest.raises(RuntimeError), any_store.transaction():
        any_store.put("balances", "P1", "1400.00")
        any_store.put("settlements", "S1", {"status": "settled"})
        raise RuntimeError("the platform refuses")

    assert any_store.get("balances", "P1") == "1500.00"
    assert any_store.get("settlements", "S1") is None


def test_nested_transactions_commit_with_the_outer_one(any_store: Store) -> None:
    with any_store.transaction():
        any_store.put("t", "a", 1)
        with any_store.transaction():
            any_store.put("t", "b", 2)
    assert any_store.dump() == {"t": {"a": 1, "b": 2}}


def test_sqlite_store_uses_wal_and_commits_every_write(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    store = SqliteStore(path)
    try:
        store.put("balances", "P1", {"balc": "1500.00", "名": "张三"})
        reader = sqlite3.connect(path)
        try:
            assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            rows = reader.execute("SELECT tbl, key, value FROM docs").fetchall()
        finally:
            reader.close()
        assert rows == [("balances", "P1", '{"balc":"1500.00","名":"张三"}')], "committed before put returns"
    finally:
        store.close()


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.sqlite"
    first = SqliteStore(path)
    first.put("visits", "V1", {"fees": {"F1": {"total": "25.00"}}})
    first.put("visits", "V2", {"fees": {}})
    first.delete("visits", "V2")
    with pytest.raises(ValueError), first.transaction():
        first.put("visits", "V3", {"fees": {}})
        raise ValueError("rolled back")
    first.close()

    second = SqliteStore(path)
    try:
        assert second.dump() == {"visits": {"V1": {"fees": {"F1": {"total": "25.00"}}}}}
    finally:
        second.close()


def test_open_store_chooses_by_path(tmp_path: Path) -> None:
    memory = open_store(None)
    assert type(memory) is Store
    kept = open_store(tmp_path / "s.sqlite")
    try:
        assert isinstance(kept, SqliteStore) and kept.path == tmp_path / "s.sqlite"
    finally:
        kept.close()


def test_the_insurance_ledger_survives_a_restart_with_sqlite_state(tmp_path: Path, contract_2024: Contract) -> None:
    path = tmp_path / "insurance.sqlite"
    runtime = Runtime().start()
    try:
        mock = InsuranceMock(contract_2024, SqliteStore(path))
        mock.start(runtime)
        wire = Wire(mock)
        try:
            wire.sign_in()
            person = mock.person("employee")
            mdtrt_id = wire.register(person)
            wire.upload(person, mdtrt_id)
            wire.ok("2207", wire.settle_input(person, mdtrt_id, FEES_TOTAL), insuplc_admdvs=person.insuplc_admdvs)
            balance = mock.balance(person.psn_no)
            sign_no = wire.sign_no
        finally:
            wire.close()
    finally:
        runtime.stop()
    mock.store.close()
    assert balance < Decimal("1500.00")

    restarted = InsuranceMock(contract_2024, SqliteStore(path))
    try:
        assert restarted.balance(person.psn_no) == balance, "seeding does not overwrite kept state"
        assert [s["status"] for s in restarted.settlements(mdtrt_id)] == ["settled"]
        assert restarted.store.get("sessions", sign_no)["active"] is True
    finally:
        restarted.store.close()


# -- bounded tables -------------------------------------------------------------------------------------------------
def test_a_bounded_table_lets_the_oldest_finished_rows_go_first() -> None:
    store = Store()
    store.bound("visits", 100, finished=lambda v: v["status"] != "registered")
    for n in range(100):
        store.put("visits", f"V{n:03d}", {"status": "registered" if n % 10 == 0 else "settled"})
    with store.transaction():
        for n in range(100, 130):
            store.put("visits", f"V{n:03d}", {"status": "settled"})
        assert store.count("visits") == 130, "nothing goes before the transaction commits"
    kept = {k for k, _ in store.items("visits")}
    assert len(kept) == 100 and store.evicted == {"visits": 30}
    assert {f"V{n:03d}" for n in range(0, 100, 10)} <= kept, "open visits stay"
    assert "V001" not in kept and "V129" in kept


def test_a_bounded_table_never_grows_past_twice_its_bound_whatever_its_rows() -> None:
    store = Store()
    store.bound("visits", 100, finished=lambda v: False)
    for n in range(500):
        store.put("visits", f"V{n:03d}", {"status": "registered"})
    assert store.count("visits") == 200
    assert store.peek("visits", "V499") is not None and store.peek("visits", "V299") is None


def test_a_rolled_back_transaction_evicts_nothing() -> None:
    store = Store()
    store.bound("messages", 100)
    for n in range(100):
        store.put("messages", f"M{n}", {"n": n})
    with pytest.raises(RuntimeError), store.transaction():
        store.put("messages", "M-new", {"n": -1})
        raise RuntimeError("refused")
    assert store.count("messages") == 100 and store.peek("messages", "M0") == {"n": 0}


def test_a_state_file_keeps_what_memory_let_go(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    store.bound("messages", 100)
    for n in range(250):
        store.put("messages", f"M{n}", {"n": n})
    assert len(store.items("messages")) == 100
    assert store.get("messages", "M0") == {"n": 0} and store.peek("messages", "M5") == {"n": 5}, "read from the file"
    store.close()
    reopened = SqliteStore(tmp_path / "state.sqlite")
    assert reopened.count("messages") == 250
    reopened.close()


def test_the_insurance_ledger_stays_bounded_under_many_settlements(contract_2024: Contract) -> None:
    mock = InsuranceMock(contract_2024)
    mock.limit_state(100)
    for n in range(400):
        with mock.store.transaction():
            mock.store.put("visits", f"V{n}", {"status": "settled" if n % 2 else "registered", "fees": {}})
            mock.store.put("messages", f"M{n}", {"infno": "2207"})
    assert mock.store.count("visits") <= 200 and mock.store.count("messages") == 100
    assert all(v["status"] == "registered" for _, v in mock.store.items("visits")[:50]), "open visits are kept longest"
