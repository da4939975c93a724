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
