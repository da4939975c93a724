"""The blood centre's reset between scenarios: the seeded bags, notices and samples restored from the day's first
seeding (`MockService.seed_key`), never from what a scenario left; seeded again when the partner's day changes;
the training records kept. Over the centre's socket, with the reference connector."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.blood_center import reference
from harness.contract.loader import ContractStore
from harness.ports.blood_center import BloodCenterSettings
from mocks.blood_center import BloodCenterMock
from mocks.blood_center.snapshots import TABLE, TRAINING_TABLES
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS
from tests.mocks.blood_center.trainee import Trainee


def _new() -> BloodCenterMock:
    return BloodCenterMock(ContractStore(CONTRACTS).load("blood-center"))


@pytest.fixture
def fresh(runtime: Runtime) -> Iterator[BloodCenterMock]:
    """A centre of its own on a loopback port, never reset yet."""
    mock = _new()
    mock.start(runtime)
    yield mock
    assert mock._listener is not None
    runtime.call(mock._listener.stop())


def seeded(mock: BloodCenterMock) -> dict[str, Any]:
    """The centre's rows less its training records, a table without rows the same as none."""
    return {table: rows for table, rows in mock.store.dump().items() if rows and table not in TRAINING_TABLES}


def scenario(mock: BloodCenterMock) -> tuple[Any, ...]:
    """An order issued and received through the reference connector, a fault armed, the clock a day ahead."""
    hospital = reference(BloodCenterSettings(wsdl_url=f"{mock.service_url}?wsdl", hospital_code=mock.hospital,
                                             token=mock.token, timeout_s=5.0, contract_folder=str(mock.contract.folder)))
    try:
        trainee = Trainee(hospital)
        ack = trainee.order("ORD40001", [("E0001", "A", "POS", 2)], urgency="URGENT")
        mock.centre.accept(f"{mock.hospital}/ORD40001")  # the centre's staff confirm and issue it
        mock.centre.issue(f"{mock.hospital}/ORD40001")
        notes = trainee.download("ORD40001")
        receipts = [trainee.receive(note) for note in notes]
    finally:
        hospital.close()
    assert ack.received_at is not None and abs((ack.received_at - mock.clock()).total_seconds()) < 60, \
        "received by the centre's clock of now"
    mock.inject("no_reply", operation="SubmitOrder")
    mock.inject("clock", shift_s=86_400.0)
    # the time of receipt left out: two scenarios a second apart are received at different times, rightly
    return ((ack.order_no, ack.status), [[unit.din for unit in note.units] for note in notes],
            [r.accepted for r in receipts])


def test_a_scenario_sees_nothing_a_previous_one_left(fresh: BloodCenterMock) -> None:
    fresh.reset()
    first_seeding = seeded(fresh)
    assert first_seeding == seeded(_new()), "the first reset seeds as a new centre does"
    fresh.store.put(TABLE, "kept", {"name": "kept"})  # a trainer's snapshot: kept by every reset

    first = scenario(fresh)
    assert first[1] and all(first[1]) and first[2] == [len(dins) for dins in first[1]], "bags issued and received"
    assert fresh.centre.orders() and seeded(fresh) != first_seeding
    assert fresh.faults.clock_shift_s() == 86_400.0

    for _ in range(2):  # the second reset restores the day's seeding, not what the scenario in between wrote
        fresh.reset()
        assert seeded(fresh) == first_seeding
        assert fresh.centre.orders() == [] and len(fresh.journal) == 0 and fresh.faults.armed() == []
        assert abs((fresh.clock() - datetime.now()).total_seconds()) < 60, "the clock fault went with the reset"
        assert fresh.store.get(TABLE, "kept") == {"name": "kept"}
        assert scenario(fresh) == first, "the same scenario, the same centre: nothing carried over"


def test_a_new_partner_day_is_seeded_again(fresh: BloodCenterMock) -> None:
    fresh.reset()
    today = seeded(fresh)
    tomorrow = datetime.now().replace(microsecond=0) + timedelta(days=1)
    fresh.set_clock(lambda: tomorrow)

    fresh.reset()

    other = _new()
    other.set_clock(lambda: tomorrow)
    other.reset()
    assert seeded(fresh) == seeded(other) != today, "the bags, notices and samples of the partner's new day"
