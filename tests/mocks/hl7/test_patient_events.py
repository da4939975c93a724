"""A patient's events kept apart from its fields (`Hl7PartnerMock._keep_patient`): what the LIS and PACS read back is
what the whole record rewritten on every message gave (the oracle below), in one store, a state file written before
the events were kept apart, and two workers' stores; a patient whose last 50 messages were of one kind writes
nothing for the next."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.contract.loader import ContractStore
from mocks.hl7_partner import EVENTS_KEPT, Runs, events_of, runs_of, with_event
from mocks.lazy_logs import LazyLogStore
from mocks.lis import LisMock
from mocks.state import SqliteStore, Store
from tests.strategies import examples

EVENT_KEYS = st.sampled_from(["OML^O21", "OML^O21", "OML^O21", "ADT^A01", "ADT^A08", "held"])

def sized(element: st.SearchStrategy[Any], most: int) -> st.SearchStrategy[list[Any]]:
    """Lists of `element` whose length is drawn evenly up to `most`: past 50 a patient's oldest events go, which
    Hypothesis's usual short lists seldom reach."""
    return st.integers(0, most).flatmap(lambda n: st.lists(element, min_size=n, max_size=n))


FIELDS = st.fixed_dictionaries({"mrn": st.sampled_from(["M1", "M2"]),
                                "name": st.sampled_from(["", "张三", "李四"]), "sex": st.sampled_from(["", "F", "M"]),
                                "visit_no": st.sampled_from(["", "V1", "V2"])})


def oracle(records: dict[str, dict[str, Any]], patient: dict[str, str], event: str) -> None:
    """The whole record merged and put on every message, as the LIS kept it before its events were kept apart."""
    known = records.get(patient["mrn"]) or {"events": []}
    records[patient["mrn"]] = {**known, **{k: v for k, v in patient.items() if v},
                               "events": [*known["events"], event][-EVENTS_KEPT:]}


@pytest.fixture(scope="module")
def contract(store: ContractStore) -> Any:
    return store.load("lis")


@settings(max_examples=examples(100))
@given(sized(EVENT_KEYS, 180))
def test_runs_hold_the_last_events_in_order(events: list[str]) -> None:
    runs: Runs = ()
    for event in events:
        after = with_event(runs, event)
        runs = runs if after is None else after
    assert events_of(runs) == events[-EVENTS_KEPT:]
    assert runs == runs_of(events[-EVENTS_KEPT:]), "adjacent runs differ and none is empty"
    as_json = [list(run) for run in runs]  # what a JSON store gives back
    assert with_event(as_json, "ADT^A08") == with_event(runs, "ADT^A08")


def test_a_patients_runs_leave_nothing_for_the_collector() -> None:
    runs = with_event(runs_of(["ADT^A01", "OML^O21", "OML^O21"]), "held")
    assert runs == (("ADT^A01", 1), ("OML^O21", 2), ("held", 1))
    gc.collect()
    gc.collect()  # a run's tuple is let go in one pass, the tuple holding it in the next
    assert not gc.is_tracked(runs), "tuples of strings and numbers: the collector stops walking them"


@settings(max_examples=examples(30), deadline=None)
@given(sized(st.tuples(FIELDS, EVENT_KEYS), 180))
def test_the_patients_read_back_as_the_whole_record_gave(contract: Any, messages: list[tuple[dict[str, str],
                                                                                              str]]) -> None:
    mock = LisMock(contract, Store())
    records: dict[str, dict[str, Any]] = {}
    for patient, event in messages:
        with mock.store.transaction():
            mock._keep_patient(dict(patient), event)
        oracle(records, patient, event)
    assert mock.patients() == list(records.values())
    for mrn, record in records.items():
        assert mock.patient(mrn) == record and list(mock.patient(mrn) or {}) == list(record), "keys in order too"
    assert all(len(p["events"]) <= EVENTS_KEPT for p in mock.patients())


def test_a_full_patient_of_one_kind_writes_nothing(contract: Any) -> None:
    mock = LisMock(contract, Store())
    patient = {"mrn": "M1", "name": "张三", "sex": "M"}
    for _ in range(EVENTS_KEPT):
        mock._keep_patient(dict(patient), "OML^O21")
    before = mock.store.revision
    mock._keep_patient(dict(patient), "OML^O21")
    assert mock.store.revision == before
    mock._keep_patient({**patient, "name": "张三丰"}, "OML^O21")
    assert mock.store.revision == before + 1, "a changed field is put, the events are not"
    mock._keep_patient(dict(patient), "ADT^A08")
    held = mock.patient("M1")
    assert held is not None and held["events"] == ["OML^O21"] * (EVENTS_KEPT - 1) + ["ADT^A08"]


def test_a_state_file_of_whole_records_is_read_and_goes_on(contract: Any, tmp_path: Path) -> None:
    state = tmp_path / "lis.sqlite"
    old = SqliteStore(state)
    old.put("patients", "M1", {"events": ["ADT^A01"] * 49 + ["OML^O21"], "mrn": "M1", "name": "张三"})
    old.close()
    mock = LisMock(contract, SqliteStore(state))
    assert mock.patient("M1") == {"events": ["ADT^A01"] * 49 + ["OML^O21"], "mrn": "M1", "name": "张三"}
    mock._keep_patient({"mrn": "M1", "name": "", "sex": "F"}, "OML^O21")
    mock.store.close()
    again = LisMock(contract, SqliteStore(state))
    assert again.patients() == [{"events": ["ADT^A01"] * 48 + ["OML^O21"] * 2, "mrn": "M1", "name": "张三",
                                 "sex": "F"}]
    again.store.close()


@settings(max_examples=examples(25), deadline=None)
@given(sized(st.tuples(st.integers(0, 1), FIELDS, EVENT_KEYS), 150))
def test_two_workers_read_what_one_store_holds(contract: Any, tmp_path_factory: pytest.TempPathFactory,
                                               messages: list[tuple[int, dict[str, str], str]]) -> None:
    state = tmp_path_factory.mktemp("workers") / "state.sqlite"
    workers = [LisMock(contract, LazyLogStore(state, durable=False, worker=(i, 2))) for i in range(2)]
    records: dict[str, dict[str, Any]] = {}
    try:
        for index, (worker, patient, event) in enumerate(messages):
            with workers[worker].store.transaction():
                workers[worker]._keep_patient(dict(patient), event)
            oracle(records, patient, event)
            if index % 7 == 0:
                assert workers[1 - worker].patients() == list(records.values())
        for mock in workers:
            assert mock.patients() == list(records.values())
    finally:
        for mock in workers:
            mock.store.close()
