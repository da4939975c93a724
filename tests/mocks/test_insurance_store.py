"""The insurance ledger's store for `--workers`: one person's transactions one at a time across processes, nonces
seen by every worker, and two workers holding the ledger one process holds for any sequence of transactions."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from mocks.insurance import InsuranceMock
from mocks.insurance_store import PERSON_SLOTS, InsuranceLogStore, person_slot
from mocks.population import Person
from mocks.state import Store
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS, FEES_TOTAL, Wire, new_msgid
from tests.strategies import examples


def pair(path: Path) -> tuple[InsuranceLogStore, InsuranceLogStore]:
    first = InsuranceLogStore(path, durable=False, worker=(0, 2))
    return first, InsuranceLogStore(path, durable=False, worker=(1, 2))


def test_a_person_has_one_slot_in_every_process() -> None:
    assert person_slot("33010019800101001X") == person_slot("33010019800101001X") < PERSON_SLOTS
    assert len({person_slot(f"P{n:05d}") for n in range(1000)}) > 800, "people spread over the slots"


def test_a_nonce_one_worker_accepted_the_other_sees_until_it_expires(tmp_path: Path) -> None:
    first, second = pair(tmp_path / "ins.sqlite")
    try:
        now = time.time()
        assert not second.nonce_seen("N1", now)
        first.add_nonce("N1", int(now) + 300)
        assert first.nonce_seen("N1", now)
        first.flush_nonces()
        assert second.nonce_seen("N1", now), "read from the other worker's log on a miss"
        assert first.nonce_seen("N1", now) and len(second.nonce_window) == 1
        assert not second.nonce_seen("N1", now + 301), "forgotten once its timestamp can no longer pass"
        assert not second.nonce_seen("N2", now)
        first.put("visits", "V1", {"status": "registered"})
        assert second.dump() == {"visits": {"V1": {"status": "registered"}}}, "a nonce is no row of the ledger"
    finally:
        first.close()
        second.close()


def _spend_slowly(path: Path, person: str, ready: Any, amount: int) -> None:
    """In another process: worker 2 takes `amount` from `person`'s balance, pausing between read and write."""
    store = InsuranceLogStore(path, durable=False, worker=(1, 2))

    def work() -> None:
        balance = store.peek("balances", person)
        ready.set()
        time.sleep(0.6)
        store.put("balances", person, balance - amount)

    store.atomic_for([person], work)
    store.close()


def test_one_persons_transactions_wait_for_the_other_process_and_read_its_result(tmp_path: Path) -> None:
    path = tmp_path / "ins.sqlite"
    first = InsuranceLogStore(path, durable=False, worker=(0, 2))
    try:
        first.put("balances", "P1", 100)
        first.put("balances", "P2", 100)
        context = multiprocessing.get_context("fork")
        ready = context.Event()
        other = context.Process(target=_spend_slowly, args=(path, "P1", ready, 30))
        other.start()
        assert ready.wait(10)
        first.atomic_for(["P2"], lambda: first.put("balances", "P2", first.peek("balances", "P2") - 5))
        assert other.is_alive(), "another person's transaction did not wait"
        first.atomic_for(["P1"], lambda: first.put("balances", "P1", first.peek("balances", "P1") - 20))
        other.join(10)
        assert other.exitcode == 0
        assert first.get("balances", "P1") == 50, "the second spending read the first's result"
        assert first.get("balances", "P2") == 95
    finally:
        first.close()


def test_a_wait_for_a_person_another_worker_holds_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "ins.sqlite"
    first = InsuranceLogStore(path, durable=False, worker=(0, 2))
    first.person_wait_s = 0.2  # the other process holds the person for 0.6 s
    try:
        first.put("balances", "P1", 100)
        context = multiprocessing.get_context("fork")
        ready = context.Event()
        other = context.Process(target=_spend_slowly, args=(path, "P1", ready, 30))
        other.start()
        assert ready.wait(10)
        with pytest.raises(TimeoutError, match="person lock"):  # had it waited the 0.6 s out, it would have run
            first.atomic_for(["P1"], lambda: first.put("balances", "P1", 0))
        other.join(10)
        assert other.exitcode == 0
        assert first.get("balances", "P1") == 70, "the refused transaction changed nothing"
        first.atomic_for(["P1"], lambda: first.put("balances", "P1", first.peek("balances", "P1") - 5))
        assert first.get("balances", "P1") == 65
    finally:
        first.close()


def test_a_nonce_goes_to_the_log_in_the_write_of_the_transaction_that_follows(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = pair(tmp_path / "ins.sqlite")
    writes: list[int] = []
    real = os.write

    def counted(fd: int, data: bytes) -> int:
        writes.append(fd)
        return real(fd, data)

    monkeypatch.setattr(os, "write", counted)
    try:
        first.add_nonce("N1", int(time.time()) + 300)
        first.atomic_for(["P1"], lambda: first.put("visits", "V1", {"status": "registered"}))
        first.flush_nonces()
        assert len(writes) == 1, "the nonce and the transaction in one write; nothing left to flush"
        assert second.nonce_seen("N1", time.time()) and second.get("visits", "V1") == {"status": "registered"}
    finally:
        first.close()
        second.close()


# -- two workers hold the ledger one process holds ----------------------------------------------------------------
@pytest.fixture(scope="module")
def contract() -> Contract:
    return ContractStore(CONTRACTS).load("insurance", "2024.1")


@pytest.fixture(scope="module")
def served(contract: Contract, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Wire], Wire]]:
    """Two insurance mocks sharing per-worker logs, and one alone on an in-memory store, each on a real socket."""
    runtime = Runtime().start()
    path = tmp_path_factory.mktemp("ledger") / "insurance.sqlite"
    mocks = []
    for index in range(2):
        mock = InsuranceMock(contract, InsuranceLogStore(path, durable=False, worker=(index, 2)))
        mock.share(index, 2, path)
        mocks.append(mock)
    alone = InsuranceMock(contract, Store())
    wires = []
    for mock in [*mocks, alone]:
        mock.start(runtime, "127.0.0.1", 0)
        wires.append(Wire(mock))
    yield wires[:2], wires[2]
    for wire in wires:
        wire.close()
    runtime.stop()
    for mock in mocks:
        mock.store.close()


STEPS = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(["register", "upload", "settle", "refund", "reverse"]),
                           st.integers(0, 1), st.integers(0, 2)), min_size=1, max_size=24)


def _play(wires: list[Wire], people: list[Person], steps: list[tuple[int, str, int, int]]) -> tuple[list[Any], Any]:
    """Run `steps` (which worker, what, whose, which of their visits); what each answered, and the ledger after."""
    wires[0].mock.reset()
    for wire in wires:
        wire.sign_no = ""
    sign_no = wires[0].sign_in()
    visits: dict[tuple[int, int], str] = {}
    settled: dict[tuple[int, int], tuple[str, str]] = {}
    said: list[Any] = []
    for worker, what, whom, which in steps:
        wire, who, key = wires[worker], people[whom], (whom, which)
        wire.sign_no = sign_no
        area = who.insuplc_admdvs
        if what == "register":
            reply = wire.call("2201", wire.register_input(who, f"H{whom}{which}{len(said)}"), insuplc_admdvs=area)
            if reply["infcode"] == 0:
                visits[key] = reply["output"]["data"]["mdtrt_id"]
        elif key not in visits:
            said.append((what, "no visit"))
            continue
        elif what == "upload":
            reply = wire.call("2204", wire.fee_input(who, visits[key], first_sn=len(said) * 10), insuplc_admdvs=area)
        elif what == "settle":
            msgid = new_msgid()
            reply = wire.call("2207", wire.settle_input(who, visits[key], FEES_TOTAL), msgid=msgid, insuplc_admdvs=area)
            if reply["infcode"] == 0:
                settled[key] = (reply["output"]["setlinfo"]["setl_id"], msgid)
        elif key not in settled:
            said.append((what, "not settled"))
            continue
        elif what == "refund":
            reply = wire.call("2208", {"data": {"setl_id": settled[key][0], "mdtrt_id": visits[key],
                                                "psn_no": who.psn_no}}, insuplc_admdvs=area)
        else:
            reply = wire.call("2601", wire.reverse_input(who, settled[key][1], "2207"), insuplc_admdvs=area)
        said.append((what, reply["infcode"], _without_ids(reply["err_msg"])))
    mock = wires[-1].mock
    ledger = ({p.psn_no: str(mock.balance(p.psn_no)) for p in people},
              sorted((v["ipt_otp_no"], v["status"], len(v["fees"])) for v in mock.visits()),
              sorted(s["status"] for s in mock.settlements()))
    return said, ledger


def _without_ids(text: str | None) -> str | None:
    """An answer's text without the ids in it (each worker draws its own)."""
    return None if text is None else "".join(c for c in text if not c.isdigit())


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_two_workers_hold_the_ledger_one_process_holds(served: tuple[list[Wire], Wire],
                                                       steps: list[tuple[int, str, int, int]]) -> None:
    workers, alone = served
    people = [alone.mock.person("employee"), alone.mock.person("low-balance")]
    one = _play([alone, alone], people, steps)
    two = _play(workers, people, steps)
    assert two == one
