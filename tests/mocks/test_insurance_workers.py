"""The insurance ledger served by two processes over a real socket: a visit registered and charged through one
worker is settled through the other, one account spent through both at once stays right, and the admin API reads
the ledger both workers wrote. Every call goes over a new connection, so the kernel spreads them.

The tests share one two-worker ledger (a module fixture, the module one xdist group): each reads back only what its
own calls did (its own person's balance, its own visits, the journal entries its calls made), so they hold in any
order, and the two serving processes start once instead of once per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from mocks.population import Person, generate
from mocks.serve import ServeOptions
from tests.conftest import CONTRACTS, FEES_TOTAL, Wire, new_msgid
from tests.mocks.serving import serving
from tests.mocks.test_workers import Served, call

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("insurance_workers")]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`hih mock serve --interface insurance --workers 2 --state FILE`, for every test of the module."""
    state = tmp_path_factory.mktemp("insurance-workers") / "ledger.sqlite"
    with serving(ServeOptions(interfaces=["insurance"], workers=2, contracts_dir=CONTRACTS, state=state)) as fields:
        yield Served(fields)


def person(role: str) -> Person:
    return next(p for p in generate() if p.role == role)


def sign_in(served: Served) -> str:
    reply = call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}})
    assert reply["infcode"] == 0, reply
    sign_no: str = reply["output"]["signinoutb"]["sign_no"]
    return sign_no


def charged_visit(served: Served, sign_no: str, who: Person, otp: str) -> str:
    registered = call(served, "2201", Wire.register_input(who, otp), sign_no, insuplc=who.insuplc_admdvs)
    assert registered["infcode"] == 0, registered
    mdtrt_id: str = registered["output"]["data"]["mdtrt_id"]
    uploaded = call(served, "2204", Wire.fee_input(who, mdtrt_id), sign_no, insuplc=who.insuplc_admdvs)
    assert uploaded["infcode"] == 0, uploaded
    return mdtrt_id


def balance(served: Served, sign_no: str, who: Person) -> Decimal:
    found = call(served, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": who.certno}}, sign_no,
                 insuplc=who.insuplc_admdvs)
    assert found["infcode"] == 0, found
    return Decimal(str(found["output"]["insuinfo"][0]["balc"]))


def journal(served: Served) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{served.admin}insurance/journal", params={"limit": 1000},
                                              timeout=10).json()["entries"]
    return entries


def visit_of(entry: dict[str, Any], side: str) -> str | None:
    """The visit (`mdtrt_id`) a journal entry's request or reply names; None when it names none, as a refused call's
    reply does (another test's refusal on the shared ledger is no error of this one's)."""
    body = entry.get(side)
    data = body.get("input" if side == "request" else "output") if isinstance(body, dict) else None
    data = data.get("data") if isinstance(data, dict) else None
    visit = data.get("mdtrt_id") if isinstance(data, dict) else None
    return visit if isinstance(visit, str) else None


def test_a_visit_registered_through_one_worker_is_settled_through_the_other(served: Served) -> None:
    sign_no = sign_in(served)
    who = person("employee")
    before = balance(served, sign_no, who)
    settled = {}
    for n in range(16):  # 16 visits of three calls each: that none crossed workers is a chance of 2 in 100,000
        mdtrt_id = charged_visit(served, sign_no, who, f"X{n:04d}")
        msgid = new_msgid()
        reply = call(served, "2207", Wire.settle_input(who, mdtrt_id, FEES_TOTAL), sign_no, insuplc=who.insuplc_admdvs,
                     msgid=msgid)
        assert reply["infcode"] == 0, reply
        info = reply["output"]["setlinfo"]
        assert Decimal(str(info["medfee_sumamt"])) == FEES_TOTAL
        settled[mdtrt_id] = info
    entries = journal(served)
    settled_by = {visit_of(e, "request"): e["worker"] for e in entries if e["operation"] == "2207"}
    registered_by = {visit_of(e, "response"): e["worker"] for e in entries if e["operation"] == "2201"}
    crossed = [m for m in settled if registered_by[m] != settled_by[m]]
    assert crossed, "some visit was settled through the worker that did not register it"

    spent = sum((Decimal(str(i["acct_pay"])) for i in settled.values()), Decimal(0))
    assert spent > 0
    assert [balance(served, sign_no, who) for _ in range(6)] == [before - spent] * 6, "every worker holds one balance"

    ledger = httpx.get(f"{served.admin}insurance/population", timeout=10).json()
    kept = {s["setl_id"]: s for s in ledger["settlements"]}
    assert kept and {i["setl_id"] for i in settled.values()} <= set(kept), "the admin API reads both workers' writes"
    assert all(kept[i["setl_id"]]["status"] == "settled" for i in settled.values())
    visits = {v["mdtrt_id"]: v["status"] for v in ledger["visits"]}
    assert visits and all(visits[m] == "settled" for m in settled)
    row = next(p for p in ledger["people"] if p["psn_no"] == who.psn_no)
    assert Decimal(row["balc"]) == before - spent


def test_one_account_spent_through_both_workers_at_once_is_never_overspent(served: Served) -> None:
    """Twelve settlements of one low-balance account sent at the same moment over twelve connections: the sum of
    what each took from the account is what the account lost, and never more than it held."""
    sign_no = sign_in(served)
    who = person("low-balance")
    before = balance(served, sign_no, who)
    visits = [charged_visit(served, sign_no, who, f"Y{n:04d}") for n in range(12)]
    replies: list[dict[str, Any]] = []
    start = threading.Barrier(len(visits))

    def settle(mdtrt_id: str) -> None:
        start.wait(10)
        replies.append(call(served, "2207", Wire.settle_input(who, mdtrt_id, FEES_TOTAL), sign_no,
                            insuplc=who.insuplc_admdvs))

    threads = [threading.Thread(target=settle, args=(m,)) for m in visits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(replies) == len(visits) and all(r["infcode"] == 0 for r in replies), replies
    spent = sum((Decimal(str(r["output"]["setlinfo"]["acct_pay"])) for r in replies), Decimal(0))
    after = balance(served, sign_no, who)
    assert 0 < spent <= before, f"账户支付合计 {spent} 元，超过原余额 {before} 元"
    assert after == before - spent, f"余额应为 {before - spent} 元，实为 {after} 元"
    settled_by = {e["worker"] for e in journal(served) if e["operation"] == "2207" and visit_of(e, "request") in visits}
    assert settled_by == {1, 2}, "both workers settled"


def test_a_nonce_used_through_one_worker_is_refused_through_the_other_for_any_transaction(served: Served) -> None:
    """A refused request (a schema error) used its nonce too: replayed through either worker, refused."""
    from harness.contract.loader import ContractStore
    from harness.contract.signing import tif_headers
    from mocks.insurance import TEST_PAASID, TEST_SECRET

    contract = ContractStore(CONTRACTS).load("insurance")
    headers = {**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"}
    earlier = {e["id"] for e in journal(served)}
    first = call(served, "1101", {"data": {"mdtrt_cert_type": "02"}}, headers=headers)
    assert first["infcode"] == -1 and "nonce" not in first["err_msg"], first
    replays = [call(served, "9001", {"signIn": {"opter_no": "1", "ip": "10.0.0.1"}}, headers=headers) for _ in range(20)]
    assert all(r["infcode"] == -1 and "nonce already used" in r["err_msg"] for r in replays), replays
    mine = [e for e in journal(served) if e["id"] not in earlier]
    assert len(mine) == 21 and {e["worker"] for e in mine} == {1, 2}, "a replay reached the other worker"
