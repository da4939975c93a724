"""The workers' writer lock (`mocks.shared_state.WriterLock`) held by another process that stopped (a worker under
SIGSTOP or a debugger): a commit waits at most `LOCK_TIMEOUT_S`, then fails with one clear line, which a SOAP
partner answers as its Fault; once the other process lets go, writing goes on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from harness.contract.loader import ContractStore
from mocks import shared_state
from mocks.blood_center.service import TEST_HOSPITAL, TEST_TOKEN, BloodCenterMock
from mocks.shared_checked import CheckedSharedStore
from mocks.shared_logs import WorkerLogStore
from mocks.shared_state import SharedSqliteStore
from mocks.state import SqliteStore, StateError
from mocks.transport.runtime import Runtime
from tests.conftest import CONTRACTS

HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()  # until the test closes the pipe (or dies): the lock goes with the process
"""


@contextmanager
def held_by_another_process(state: Path) -> Iterator[None]:
    """`<state>.lock` flocked by a second process until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, f"{state}.lock"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        assert holder.stdout is not None
        holder.stdout.close()


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared_state, "LOCK_TIMEOUT_S", 0.3)


def test_a_commit_behind_a_lock_another_process_keeps_fails_in_one_line_then_goes_on(tmp_path: Path,
                                                                                    short_wait: None) -> None:
    state = tmp_path / "blood-center.sqlite"
    store = SharedSqliteStore(state)
    try:
        with held_by_another_process(state):
            with pytest.raises(StateError, match=r"writer lock \(blood-center\.sqlite\.lock\) stayed held for 0\.3 s"):
                store.put("orders", "A1", {"n": 1})
            assert store.get("orders", "A1") is None, "the refused write is undone in memory"
        store.put("orders", "A1", {"n": 2})
    finally:
        store.close()
    again = SharedSqliteStore(state)
    assert again.get("orders", "A1") == {"n": 2}
    again.close()


def test_a_second_thread_of_the_worker_waits_for_the_first_no_longer_than_the_bound(tmp_path: Path,
                                                                                    short_wait: None) -> None:
    """The lock is also held between the threads of one worker: a thread behind one that waits on a stopped process
    is refused the same way, not left waiting behind it."""
    import threading

    state = tmp_path / "s.sqlite"
    lock = shared_state.WriterLock(state)
    refusals: list[str] = []

    def take() -> None:
        try:
            with lock:
                pass
        except StateError as exc:
            refusals.append(str(exc))

    try:
        with held_by_another_process(state):
            threads = [threading.Thread(target=take) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            assert not any(t.is_alive() for t in threads)
        assert len(refusals) == 2 and all("stayed held" in r for r in refusals)
        with lock:  # let go: taken at once
            pass
    finally:
        lock.close()


def test_rows_a_flush_could_not_write_behind_the_lock_wait_for_the_next(tmp_path: Path, short_wait: None) -> None:
    """The per-worker logs' store (the LIS, the insurance ledger) writes the state file behind the lock too: a flush
    refused there keeps its rows, and the next one writes them."""
    state = tmp_path / "lis.sqlite"
    store = WorkerLogStore(state, durable=True, worker=(0, 1))

    async def serving() -> None:  # on a worker's loop, a write's flush is due DURABLE_FLUSH_S later
        with held_by_another_process(state):
            store.put("orders", "Q1", {"status": "received"})
            with pytest.raises(StateError, match="stayed held"):
                store.flush()
        store.flush()

    try:
        asyncio.run(serving())
    finally:
        store.close()
    kept = SqliteStore(state)
    assert kept.get("orders", "Q1") == {"status": "received"}
    kept.close()


ORDER = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
         'xmlns:t="urn:hih:blood-center:service"><s:Header><t:AuthHeader>'
         f"<t:HospitalCode>{TEST_HOSPITAL}</t:HospitalCode><t:Token>{TEST_TOKEN}</t:Token></t:AuthHeader></s:Header>"
         "<s:Body><t:SubmitBloodOrder><t:order><t:orderNo>{no}</t:orderNo><t:urgency>URGENT</t:urgency>"
         "<t:wantedAt>2026-12-01T10:00:00</t:wantedAt><t:department>心胸外科</t:department><t:orderedBy>王医生</t:orderedBy>"
         "<t:item><t:lineNo>1</t:lineNo><t:productCode>E0001</t:productCode><t:abo>A</t:abo><t:rhd>POS</t:rhd>"
         "<t:quantity>2</t:quantity><t:unit>U</t:unit></t:item></t:order></t:SubmitBloodOrder></s:Body></s:Envelope>")


def test_the_blood_centre_answers_a_stopped_writer_with_its_soap_fault_over_a_socket(tmp_path: Path,
                                                                                      short_wait: None) -> None:
    """A worker's blood centre over its shared store (as `hih mock serve --workers` makes it), served on a real port:
    an order sent while another process keeps the writer lock is answered with a SOAP Fault naming the lock, not
    held; the same order sent once the lock is free is taken."""
    state = tmp_path / "blood-center.sqlite"
    contract = ContractStore(CONTRACTS).load("blood-center")
    mock = BloodCenterMock(contract, CheckedSharedStore(state))
    mock.share(0, 2, state)
    runtime = Runtime()
    try:
        mock.start(runtime)

        def order(no: str) -> httpx.Response:
            with httpx.Client(timeout=30) as client:
                return client.post(mock.service_url, content=ORDER.format(no=no).encode(),
                                   headers={"Content-Type": "text/xml; charset=utf-8",
                                            "SOAPAction": '"urn:hih:blood-center:SubmitBloodOrder"'})

        with held_by_another_process(state):
            refused = order("BOLOCKED01")
        assert refused.status_code == 500 and "<faultcode>" in refused.text.replace("s:", "").replace("soap:", "")
        assert "writer lock" in refused.text and "stayed held" in refused.text
        taken = order("BOLOCKED01")
        assert taken.status_code == 200 and "<ns0:ResultCode>0</ns0:ResultCode>" in taken.text, taken.text[:500]
    finally:
        runtime.stop()
        mock.store.close()
