"""The insurance mock's reset between scenarios: its seeded rows restored from the first seeding (`Store.restore`),
never from what a scenario left. Over the mock's socket, as a run's scenarios reach it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.model import Contract
from mocks.insurance import InsuranceMock
from mocks.population import Person
from mocks.state import Store
from mocks.transport.runtime import Runtime
from tests.conftest import FEES_TOTAL, Wire


@pytest.fixture
def fresh(runtime: Runtime, contract_2024: Contract) -> Iterator[InsuranceMock]:
    """A mock of its own on a loopback port, never reset yet: its first reset seeds, the next ones restore."""
    mock = InsuranceMock(contract_2024)
    mock.start(runtime, "127.0.0.1", 0)
    yield mock
    assert mock._listener is not None
    runtime.call(mock._listener.stop())


def scenario(mock: InsuranceMock, person: Person) -> dict[str, Any]:
    """What a settlement scenario leaves behind: a sign-in, a visit with its fees, a settlement that spends the
    account, a fault armed and not fired, the partner's clock an hour ahead. Returns the settlement's figures."""
    wire = Wire(mock)
    try:
        wire.sign_in()
        mdtrt_id = wire.register(person)
        wire.upload(person, mdtrt_id)
        reply = wire.ok("2207", wire.settle_input(person, mdtrt_id, FEES_TOTAL), insuplc_admdvs=person.insuplc_admdvs)
    finally:
        wire.close()
    mock.inject("no_reply", operation="2208")
    mock.inject("clock", shift_s=3600.0)
    setl: dict[str, Any] = reply["output"]["setlinfo"]
    return {key: setl[key] for key in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc")}


def test_a_scenario_sees_nothing_a_previous_one_left(fresh: InsuranceMock, contract_2024: Contract) -> None:
    fresh.reset()
    person = fresh.person("employee")
    seeded = fresh.store.dump()
    assert seeded == InsuranceMock(contract_2024).store.dump(), "the first reset seeds as a new mock does"

    first = scenario(fresh, person)
    assert fresh.balance(person.psn_no) < Decimal("1500.00") and fresh.visits(person.psn_no)
    assert fresh.faults.clock_shift_s() == 3600.0 and len(fresh.journal) > 0

    for _ in range(2):  # the second reset restores what the first seeded, not what the scenario in between wrote
        fresh.reset()
        assert fresh.store.dump() == seeded
        assert fresh.visits() == [] and fresh.settlements() == [] and fresh.store.count("sessions") == 0
        assert fresh.balance(person.psn_no) == Decimal("1500.00")
        assert len(fresh.journal) == 0 and fresh.faults.armed() == []
        assert abs((fresh.clock() - datetime.now()).total_seconds()) < 60, "the clock fault went with the reset"
        assert scenario(fresh, person) == first, "the same scenario, the same ledger: nothing carried over"


def test_a_scenario_that_writes_the_seeded_rows_leaves_the_next_seeding_whole(fresh: InsuranceMock) -> None:
    fresh.reset()
    seeded = fresh.store.dump()
    psn_no = fresh.person("resident").psn_no
    fresh.store.put("balances", psn_no, "99.00")
    fresh.store.delete("balances", fresh.person("employee").psn_no)

    fresh.reset()

    assert fresh.store.dump() == seeded


def held(store: Store) -> dict[str, dict[str, Any]]:
    """The store's rows, a table without rows the same as no table (`count` 0, no `items`)."""
    return {table: rows for table, rows in store.dump().items() if rows}


@pytest.fixture(scope="module")
def offline(contract_2024: Contract) -> tuple[InsuranceMock, dict[str, Any]]:
    """A mock that never listens, reset by every example (its first reset seeds, the others restore), and the rows a
    new mock starts with."""
    return InsuranceMock(contract_2024), InsuranceMock(contract_2024).store.dump()


@settings(max_examples=60, deadline=None)
@given(writes=st.lists(st.tuples(st.sampled_from(["balances", "visits", "sessions", "settlements", "new"]),
                                 st.sampled_from(["330100", "x", "330100" + "0" * 19 + "1"]),
                                 st.fixed_dictionaries({"status": st.sampled_from(["registered", "settled"]),
                                                        "active": st.booleans(), "balc": st.text(max_size=4)}),
                                 st.booleans()), max_size=12),
       rolled_back=st.booleans())
def test_reset_after_any_writes_holds_the_seeded_rows(offline: tuple[InsuranceMock, dict[str, Any]],
                                                       writes: list[tuple[str, str, dict[str, Any], bool]],
                                                       rolled_back: bool) -> None:
    mock, seeded = offline
    mock.reset()
    assert mock.store.dump() == seeded
    for table, key, value, deleting in writes:
        if deleting:
            mock.store.delete(table, key)
        else:
            mock.store.put(table, key, value)
    before = held(mock.store)
    if rolled_back:  # a restore inside a transaction that fails is undone like any other write
        with pytest.raises(RuntimeError), mock.store.transaction():
            mock.reset()
            raise RuntimeError("refused")
        assert held(mock.store) == before
    mock.reset()
    assert mock.store.dump() == seeded


def test_restore_keeps_its_tables_and_bounds() -> None:
    store = Store()
    store.bound("visits", 2, lambda row: row["done"])
    store.put("visits", "a", {"done": True})
    store.put("visits", "b", {"done": False})
    saved = store.tables()
    store.put("visits", "c", {"done": False})
    store.put("other", "k", 1)
    revision = store.revision

    store.restore(saved)

    assert store.dump() == {"visits": {"a": {"done": True}, "b": {"done": False}}}
    assert store.revision > revision, "a page showing the state knows it changed"
    store.put("visits", "d", {"done": False})  # over the bound: the finished row goes first, as before the restore
    assert [key for key, _ in store.items("visits")] == ["b", "d"]
    assert saved.rows == {"visits": {"a": {"done": True}, "b": {"done": False}}}, "restoring does not share its rows"


@pytest.mark.parametrize("restoring", [False, True])
def test_clear_and_restore_in_a_failing_transaction_put_every_table_back(restoring: bool) -> None:
    store = Store()
    store.bound("visits", 2, lambda row: row["done"])
    store.put("visits", "a", {"done": True})
    store.put("visits", "b", {"done": False})
    store.put("balances", "p", "1.00")
    saved = store.tables()
    store.put("balances", "p", "2.00")
    before = store.dump()

    with pytest.raises(RuntimeError), store.transaction():
        store.put("balances", "q", "3.00")
        store.clear()
        store.put("visits", "c", {"done": True})
        if restoring:
            store.restore(saved)
            store.delete("balances", "p")
        raise RuntimeError("refused")

    assert store.dump() == before
    store.put("visits", "d", {"done": False})  # the bound's index is back too: the finished row goes first
    assert [key for key, _ in store.items("visits")] == ["b", "d"]
