"""`hih mock serve --workers 2`: two processes on one port (SO_REUSEPORT) keep one ledger (per-worker logs, the
`--state` file written behind), and the admin API merges what both saw. Every call goes over a new connection, so the kernel spreads them.

The insurance tests share one two-worker ledger (a module fixture; those tests are one xdist group): each reads back only
what its own calls did (the journal entries they added, the visits they made), so they hold in any order, and the two
serving processes start once instead of once per test."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from harness.errors import UsageError
from mocks.insurance import TEST_PAASID, TEST_SECRET
from mocks.pacs import PacsMock
from mocks.serve import ServeOptions, serve
from mocks.shared_state import SharedSqliteStore
from mocks.state import SqliteStore
from tests.conftest import CONTRACTS, envelope, wait_for
from tests.mocks.serving import serving
from tests.mocks.worker_processes import command_line, worker_pids

pytestmark = pytest.mark.slow
LEDGER = pytest.mark.xdist_group("workers_ledger")
"""The tests of the shared ledger (`served`), kept on one xdist worker so that it starts once."""


class Served:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.url = fields["insurance"][1]
        self.description = fields["insurance"][2]
        self.admin = fields["admin"][1]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workers") / "ledger.sqlite"


@pytest.fixture(scope="module")
def shared_ledger(ledger: Path) -> Iterator[Served]:
    """`hih mock serve --interface insurance --workers 2 --state FILE`, for every insurance test of the module."""
    with serving(ServeOptions(interfaces=["insurance"], workers=2, contracts_dir=CONTRACTS, state=ledger)) as fields:
        yield Served(fields)


@pytest.fixture
def served(shared_ledger: Served) -> Iterator[Served]:
    """The shared ledger, its faults disarmed after each test on every path: a test that fails with faults armed
    would otherwise fail the next one's calls."""
    yield shared_ledger
    assert httpx.delete(f"{shared_ledger.admin}insurance/faults", timeout=10).status_code == 204


def journal_ids(served: Served) -> set[int]:
    """The ids of the journal's entries so far (a test then reads the entries its own calls added)."""
    return {e["id"] for e in httpx.get(f"{served.admin}insurance/journal", params={"limit": 1000}, timeout=10).json()["entries"]}


def added(served: Served, earlier: set[int]) -> dict[str, Any]:
    """The merged journal with only the entries added since `earlier` (`journal_ids`), oldest first."""
    journal: dict[str, Any] = httpx.get(f"{served.admin}insurance/journal", params={"limit": 1000}, timeout=10).json()
    journal["entries"] = [e for e in journal["entries"] if e["id"] not in earlier]
    return journal


def call(served: Served, infno: str, data: dict[str, Any], sign_no: str = "", headers: dict[str, str] | None = None,
         insuplc: str | None = None, msgid: str | None = None) -> dict[str, Any]:
    contract = ContractStore(CONTRACTS).load("insurance")
    path = f"/fsi/api/{contract.operations[infno].path}"
    body = envelope(infno, data, msgid, sign_no, insuplc)
    sent = headers or {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
    with httpx.Client(timeout=10) as client:  # a new connection for every call
        reply: dict[str, Any] = client.post(served.url + path, content=json.dumps(body).encode(), headers=sent).json()
    return reply


@LEDGER
def test_two_workers_keep_one_ledger(served: Served, ledger: Path) -> None:
    assert served.description == "(contract 2025.1, 2 workers, state in " + str(ledger) + ")"
    earlier = journal_ids(served)
    sign_no = call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})["output"]["signinoutb"]["sign_no"]
    from mocks.population import generate

    person = next(p for p in generate() if p.role == "employee")
    visits = []
    for n in range(30):  # over 30 new connections both workers take some (all on one: 2 in a billion)
        reply = call(served, "2201", {"data": {
            "psn_no": person.psn_no, "insutype": person.insutype, "begntime": time.strftime("%Y-%m-%d %H:%M:%S"),
            "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "ipt_otp_no": f"W{n:04d}", "atddr_no": "D001",
            "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}, sign_no, insuplc=person.insuplc_admdvs)
        assert reply["infcode"] == 0, reply
        visits.append(reply["output"]["data"]["mdtrt_id"])
    assert len(set(visits)) == 30, "no two workers made the same visit id"
    again = call(served, "2201", {"data": {
        "psn_no": person.psn_no, "insutype": person.insutype, "begntime": time.strftime("%Y-%m-%d %H:%M:%S"),
        "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "ipt_otp_no": "W0003", "atddr_no": "D001",
        "dr_name": "李医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"}}, sign_no, insuplc=person.insuplc_admdvs)
    assert again["infcode"] == -1 and "已登记" in again["err_msg"], "an outpatient number is unique across workers"

    journal = added(served, earlier)
    assert journal["workers"] == 2 and journal["total"] == len(earlier) + 32 and len(journal["entries"]) == 32
    assert {e["worker"] for e in journal["entries"]} == {1, 2}, "the kernel spread the connections over both"
    assert len({e["id"] for e in journal["entries"]}) == 32
    assert [e["operation"] for e in journal["entries"]][0] == "9001"

    def kept() -> set[str]:  # the workers write the state file off the request's path, within 0.2 s
        store = SqliteStore(ledger)
        try:
            return {v["mdtrt_id"] for _, v in store.items("visits")}
        finally:
            store.close()

    wait_for(lambda: kept() == set(visits), timeout=5.0)


@LEDGER
def test_no_worker_shows_its_configuration_on_its_command_line(served: Served) -> None:
    """The workers' configuration holds the secret the admin API reaches them with; a command line is readable by
    every local user (`ps`), so it goes through a pipe."""
    pids = worker_pids()
    assert len(pids) == 2, f"expected the two workers under this process's forkserver, found {pids}"
    lines = [command_line(pid).replace(b"\0", b" ") for pid in pids]
    shown = [line for line in lines if b"admin_token" in line or b"secret" in line]
    assert not shown, f"{len(shown)} of the workers show their configuration on their command line"


@LEDGER
def test_a_request_replayed_to_the_other_worker_is_refused(served: Served) -> None:
    contract = ContractStore(CONTRACTS).load("insurance")
    headers = {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
    earlier = journal_ids(served)
    first = call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}}, headers=headers)
    assert first["infcode"] == 0
    # 30 new connections: the chance that the kernel gives them all to one worker is 2 in a billion
    replays = [call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}}, headers=headers) for _ in range(30)]
    assert all(r["infcode"] == -1 and "nonce already used" in r["err_msg"] for r in replays), replays
    journal = added(served, earlier)
    assert len(journal["entries"]) == 31
    original = journal["entries"][0]["worker"]
    assert any(e["worker"] != original for e in journal["entries"][1:]), "a replay reached the other worker"


@LEDGER
def test_a_fault_armed_through_the_admin_api_reaches_every_worker(served: Served) -> None:
    earlier = journal_ids(served)
    armed = httpx.post(f"{served.admin}insurance/faults", json={"kind": "error_reply", "operation": "9001", "times": 50},
                       timeout=10)
    assert armed.status_code == 201
    listed = httpx.get(f"{served.admin}insurance/faults", timeout=10).json()
    assert len(listed["armed"]) == 2 and listed["workers"] == 2
    replies = [call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}}) for _ in range(30)]
    assert all(r["infcode"] == -1 for r in replies)
    assert len(httpx.get(f"{served.admin}insurance/faults", timeout=10).json()["fired"]) == 30
    journal = added(served, earlier)["entries"]
    assert {e["worker"] for e in journal if e["fault"] == "error_reply"} == {1, 2}, "both workers applied the fault"
    assert httpx.delete(f"{served.admin}insurance/faults", timeout=10).status_code == 204
    assert call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})["infcode"] == 0


@pytest.mark.parametrize(("options", "says"), [
    (ServeOptions(interfaces=["pacs"], workers=2), "the pacs mock keeps state outside its store"),
    (ServeOptions(interfaces=["lis"], workers=2, push={"lis": "127.0.0.1:9"}), "--workers and --push"),
    (ServeOptions(interfaces=["insurance"], workers=99), "--workers 99: give 2 to 16"),
])
def test_what_workers_cannot_serve_is_a_usage_error(options: ServeOptions, says: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # Every mock of the registry shares its state today; one that did not is played by PACS.
    monkeypatch.setattr(PacsMock, "shares_state", False)
    options.contracts_dir = CONTRACTS
    stopped = threading.Event()
    stopped.set()  # were the options served after all, serving ends at once and the missing error fails the test
    with pytest.raises(UsageError, match=says.replace("-", "\\-").replace("(", "\\(")):
        serve(options, lambda line: None, stopped)


# -- the shared store, two workers in one process -------------------------------------------------------------------
@pytest.mark.parametrize("interleaved", [False, True])
def test_two_workers_spending_one_balance_both_count(tmp_path: Path, interleaved: bool) -> None:
    path = tmp_path / "shared.sqlite"
    first, second = SharedSqliteStore(path), SharedSqliteStore(path)
    try:
        first.put("balances", "P1", 100)
        runs: list[str] = []

        def spend(store: SharedSqliteStore, amount: int, name: str) -> None:
            def work() -> None:
                runs.append(name)
                balance = store.peek("balances", "P1")
                if interleaved and runs.count(name) == 1 and name == "second":
                    first.atomic(lambda: first.put("balances", "P1", first.peek("balances", "P1") - 30))  # meanwhile
                store.put("balances", "P1", balance - amount)

            store.atomic(work)

        spend(second, 20, "second")
        spend(first, 5, "first")
        expected = 100 - 20 - 5 - (30 if interleaved else 0)
        assert first.get("balances", "P1") == second.get("balances", "P1") == expected
        assert runs.count("second") == (2 if interleaved else 1), "the transaction that read a stale balance ran again"
        assert second.conflicts == (1 if interleaved else 0)
    finally:
        first.close()
        second.close()


def test_what_one_worker_writes_the_other_reads_and_a_restart_finds(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    first, second = SharedSqliteStore(path), SharedSqliteStore(path)
    with first.transaction():
        first.put("visits", "V1", {"status": "registered"})
        first.put("visits", "V2", {"status": "registered"})
    second.delete("visits", "V2")
    assert first.get("visits", "V1") == {"status": "registered"} and first.get("visits", "V2") is None
    assert second.items("visits") == [("V1", {"status": "registered"})]
    first.close()
    second.close()
    again = SharedSqliteStore(path)
    assert again.dump() == {"visits": {"V1": {"status": "registered"}}}
    again.close()


def test_the_log_folded_into_the_state_format_keeps_each_rows_latest_write(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows logged as JSON text, folded into `docs` every FOLD_EVERY rows (a deletion removes the row): a restart,
    another worker and the single-process `--state` store all read the same rows, and the file holds them as text."""
    monkeypatch.setattr(SharedSqliteStore, "FOLD_EVERY", 4)
    path = tmp_path / "shared.sqlite"
    first, second = SharedSqliteStore(path), SharedSqliteStore(path)
    record = {"text": "<记录>孕产妇 &amp; 新生儿</记录>", "n": 2**62, "ok": True, "list": [1.5, None]}
    for number in range(8):
        (first if number % 2 else second).put("records", f"R{number}", {**record, "number": number})
    first.put("records", "R1", {"number": "again"})
    second.delete("records", "R2")
    second.put("counters", "record", 7)
    first.put("counters", "batch", 1)  # the 12th row: the third fold, which takes the deletion
    expected = {"counters": {"record": 7, "batch": 1},
                "records": {**{f"R{n}": {**record, "number": n} for n in (0, 3, 4, 5, 6, 7)}, "R1": {"number": "again"}}}
    assert first.dump() == second.dump() == expected
    first.close()
    second.close()
    db = sqlite3.connect(path)
    try:
        assert {kind for (kind,) in db.execute("SELECT typeof(value) FROM log UNION SELECT typeof(value) FROM docs")} \
            <= {"text", "null"}
        folded = dict(db.execute("SELECT key, value FROM docs WHERE tbl = 'records'").fetchall())
    finally:
        db.close()
    assert "R2" not in folded and json.loads(folded["R1"]) == {"number": "again"}, "folded: latest writes only"
    again = SharedSqliteStore(path)
    try:
        assert again.dump() == expected
    finally:
        again.close()
    single = SqliteStore(path)
    try:
        assert {t: dict(single.items(t)) for t in ("counters", "records")} == expected
    finally:
        single.close()


def test_the_log_trimmed_to_its_last_row_keeps_counting_and_a_worker_left_behind_reloads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Log rows are numbered the largest + 1: the trim behind a fold keeps the last row however little the log keeps,
    so numbers never go back and no worker takes a new row for one it has seen."""
    monkeypatch.setattr(SharedSqliteStore, "FOLD_EVERY", 2)
    monkeypatch.setattr(SharedSqliteStore, "KEEP_LOG", 0)
    path = tmp_path / "shared.sqlite"
    first, second = SharedSqliteStore(path), SharedSqliteStore(path)
    try:
        for number in range(6):
            first.put("orders", f"O{number}", {"n": number})
            if number == 1:
                assert second.get("orders", "O1") == {"n": 1}
        second.put("orders", "O6", {"n": 6})  # seen up to 2, the log trimmed to 6: it reloads first
        assert second.get("orders", "O5") == {"n": 5}
        first.put("orders", "O7", {"n": 7})  # the 8th row: the fold trims the log to it
        with sqlite3.connect(path) as db:
            assert [seq for (seq,) in db.execute("SELECT seq FROM log")] == [8], "trimmed to the last row"
        second.put("orders", "O8", {"n": 8})
        expected = {"orders": {f"O{n}": {"n": n} for n in range(9)}}
        assert first.dump() == second.dump() == expected
        with sqlite3.connect(path) as db:
            assert [seq for (seq,) in db.execute("SELECT seq FROM log")] == [8, 9], "numbered on from the last"
    finally:
        first.close()
        second.close()


def test_two_lis_workers_hold_one_set_of_orders(tmp_path: Path) -> None:
    from harness.contract.hl7.mllp_client import MllpSyncClient
    from tests.contracts.hl7 import messages as m

    with serving(ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS)) as fields:
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        admin = fields["admin"][1]

        def order(placer: str, control: str) -> tuple[str, str]:
            text = m.lis_oml(control=control).replace("HIS20240105001", placer)
            with MllpSyncClient(host, int(port), timeout=5.0) as client:  # a new connection each time
                reply = client.send(text).message
            assert reply is not None
            return reply.get("MSA-1"), reply.get("ORC-1")

        placed = [order(f"P{n:04d}", f"C{n:04d}") for n in range(30)]
        assert placed == [("AA", "OK")] * 30
        again = [order(f"P{n:04d}", f"D{n:04d}") for n in range(30)]
        assert again == [("AA", "UA")] * 30, "every worker knows every order: a placer number held is refused"
        journal = httpx.get(f"{admin}lis/journal", params={"limit": 100}, timeout=10).json()
        assert journal["total"] == 60 and {e["worker"] for e in journal["entries"]} == {1, 2}



def test_an_order_one_lis_worker_answered_the_other_knows_at_once_and_a_restart_keeps(tmp_path: Path) -> None:
    """No pause between the ACK and the next message: placed, placed again, cancelled and cancelled again, each over
    a new connection (so through either worker), right after the previous answer."""
    from harness.contract.hl7.mllp_client import MllpSyncClient
    from tests.contracts.hl7 import messages as m

    state = tmp_path / "lis.sqlite"
    options = ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, state=state)
    lines: list[str] = []
    with serving(options, announced=lines) as fields:
        host, port = fields["lis"][1].removeprefix("mllp://").rsplit(":", 1)
        admin = fields["admin"][1]

        def send(control: str, placer: str, order_control: str = "NW") -> str:
            text = m.lis_oml(order_control, control).replace("HIS20240105001", placer)
            with MllpSyncClient(host, int(port), timeout=5.0) as client:
                reply = client.send(text).message
            assert reply is not None and reply.get("MSA-1") == "AA"
            return reply.get("ORC-1")

        answers = [(send(f"A{n}", f"Q{n}"), send(f"B{n}", f"Q{n}"), send(f"C{n}", f"Q{n}", "CA"),
                    send(f"D{n}", f"Q{n}", "CA"), send(f"E{n}", f"Q{n}")) for n in range(20)]
        assert answers == [("OK", "UA", "CR", "CR", "OK")] * 20, \
            "the second worker refuses a placer number held, and a cancelled one may be ordered again"
        journal = httpx.get(f"{admin}lis/journal", params={"limit": 100}, timeout=10).json()
        assert {e["worker"] for e in journal["entries"]} == {1, 2}
    from mocks.lazy_logs import LazyLogStore
    from mocks.state import SqliteStore

    left = list(tmp_path.glob("*.log"))
    assert not left or [x for x in lines if "killed" in x], "each worker removes its log when it stops, unless killed"
    LazyLogStore.recover(state)  # as the next start does: a worker killed past the grace (a loaded machine) left its log
    kept = SqliteStore(state)
    orders = dict(kept.items("orders"))
    kept.close()
    assert sorted(orders) == sorted(f"Q{n}" for n in range(20)) and {o["status"] for o in orders.values()} == {"received"}


@pytest.mark.parametrize("busy_poll_s", [0.0, 1e-4], ids=["sleeping", "polling"])
def test_each_lis_worker_finds_the_others_orders_when_a_message_looks_them_up(tmp_path: Path, busy_poll_s: float) -> None:
    """The other worker's orders are kept as bytes until looked up: over one connection to each worker, an order
    placed on one is refused as a duplicate on the other, cancelled there (its status read), ordered again on the
    first, and the admin view and the patient's events hold what both wrote; the same with the workers polling
    before they sleep (`--busy-poll-us 100`)."""
    from tests.mocks.lis_workers import lis_workers

    options = ServeOptions(interfaces=["lis"], workers=2, contracts_dir=CONTRACTS, busy_poll_s=busy_poll_s)
    with serving(options) as fields:
        with lis_workers(fields, "K") as lis:
            on = lis.one_per_worker()
            placed = len(lis.opened)
            for one, two in ((1, 2), (2, 1)):
                first, other = on[one], on[two]
                for n in range(8):
                    placer = f"X{one}-{n}"
                    assert lis.send(first, placer) == "OK"
                    assert lis.send(other, placer) == "UA", "the duplicate of an order the other worker took"
                    assert lis.send(other, placer, "CA") == "CR", "a cancel reads the other worker's order"
                    assert lis.send(first, placer) == "OK", "the first worker reads the cancel and takes it again"
                    assert lis.send(other, f"NONE{placer}", "CA") == "UC"
                    placed += 2
        admin, opened = lis.admin, lis.opened
        population = httpx.get(f"{admin}lis/population", timeout=10).json()
        orders = {o["placer_no"]: o["status"] for o in population["orders"]}
        assert len(orders) == 16 + len(opened) and {s for k, s in orders.items() if k.startswith("X")} == {"received"}
        [patient] = population["patients"]
        assert len(patient["events"]) == min(placed, 50), "each order's event, whichever worker took it"
