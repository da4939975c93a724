"""A training state file with records that would break the answers they feed (written behind the mock's back, or by
an older hih): the mock starts, sets them aside, lists them on the console, and answers the hospital within the
contract (ResultCode 9999 for a damaged record it is asked for), also after another restart."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import zeep
from zeep.transports import Transport

from harness.contract.model import Contract
from mocks.blood_center import BloodCenterMock
from mocks.state import SqliteStore
from mocks.transport.runtime import Runtime
from tests.mocks.blood_center.conftest import Caller, order


def tamper(path: Path, table: str, key: str, value: object | str) -> None:
    """Write a row as another program would: straight into the file, no checks."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR REPLACE INTO docs (tbl, key, value) VALUES (?, ?, ?)", (table, key, text))


@pytest.fixture
def state(tmp_path: Path, contract: Contract) -> Path:
    path = tmp_path / "training.sqlite"
    first = BloodCenterMock(contract, SqliteStore(path))
    first.centre.submit_order(first.hospital, {**order("ORD2001"), "item": [
        {"lineNo": 1, "productCode": "E0001", "abo": "A", "rhd": "POS", "quantity": "2", "unit": "U"}]})
    first.centre.submit_order(first.hospital, {**order("ORD2002"), "item": [
        {"lineNo": 1, "productCode": "E0001", "abo": "A", "rhd": "POS", "quantity": "2", "unit": "U"}]})
    first.store.close()
    now = datetime.now().replace(microsecond=0).isoformat()
    tamper(path, "notices", "TZBAD0000001", {"noticeId": "TZBAD0000001", "type": "POLICY", "title": "坏\x01通知",
                                              "content": "c", "publishedAt": now, "din": []})
    tamper(path, "notices", "TZBAD0000002", ["not", "a", "notice"])
    tamper(path, "notices", "TZBAD0000003", "{not json")
    with sqlite3.connect(path) as db:
        (raw,) = db.execute("SELECT value FROM docs WHERE tbl = 'orders' AND key = ?", (f"{first.hospital}/ORD2001",)).fetchone()
    rejected = {**json.loads(raw), "status": "REJECTED", "reason": "缺" * 300}
    tamper(path, "orders", f"{first.hospital}/ORD2001", rejected)
    return path


@pytest.fixture
def contract(_centre: BloodCenterMock) -> Contract:
    return _centre.contract


@pytest.fixture
def served(state: Path, contract: Contract, runtime: Runtime) -> Iterator[tuple[BloodCenterMock, Caller]]:
    mock = BloodCenterMock(contract, SqliteStore(state))
    mock.start(runtime)
    client = zeep.Client(f"{mock.service_url}?wsdl", transport=Transport(timeout=5, operation_timeout=5))
    yield mock, Caller(client, mock)
    mock.store.close()


def test_damaged_records_are_set_aside_with_why(served: tuple[BloodCenterMock, Caller]) -> None:
    mock, _ = served
    damaged = mock.centre.damaged
    hospital = mock.hospital
    assert set(damaged) == {("notices", "TZBAD0000001"), ("notices", "TZBAD0000002"), ("notices", "TZBAD0000003"),
                            ("orders", f"{hospital}/ORD2001")}
    assert damaged[("notices", "TZBAD0000001")] == "标题含有控制字符 U+0001（第 2 个字符），请删除后重试"
    assert damaged[("orders", f"{hospital}/ORD2001")] == "原因最长 200 个字符，现为 300 个"
    assert damaged[("notices", "TZBAD0000002")].startswith("记录不是一个对象")
    assert damaged[("notices", "TZBAD0000003")].startswith("记录无法读取")


def test_the_hospital_gets_answers_within_the_contract(served: tuple[BloodCenterMock, Caller]) -> None:
    mock, call = served
    notices = call("QueryNotices", since=datetime.now() - timedelta(days=30))
    assert notices.ResultCode == "0" and "TZBAD0000001" not in [n.noticeId for n in notices.notice]
    feedback = call("QueryOrderFeedback", orderNo="ORD2001")
    assert feedback.ResultCode == "9999" and "ORD2001 的记录已损坏" in feedback.ResultMessage
    assert call("QueryOrderFeedback", orderNo="ORD2002").feedback.status == "RECEIVED", "sound records are served"
    for exchange in mock.journal.entries():
        assert exchange.response_valid, [f.message for f in exchange.response_findings]
    again = call("SubmitBloodOrder", order=order("ORD2001"))
    assert again.ResultCode == "9999", "a damaged order number is not taken over either"


def test_the_console_lists_them(served: tuple[BloodCenterMock, Caller]) -> None:
    mock, _ = served
    assert mock.endpoint is not None
    page = httpx.get(f"{mock.endpoint.url}/console/", timeout=5)
    assert page.status_code == 200 and "状态文件中有 4 条记录已损坏" in page.text and "ORD2002" in page.text
    problems = httpx.get(f"{mock.endpoint.url}/console/problems", timeout=5).text
    assert "TZBAD0000001" in problems and "原因最长 200 个字符" in problems and "\x01" not in problems
    detail = httpx.get(f"{mock.endpoint.url}/console/orders/{mock.hospital}%2FORD2001", timeout=5)
    assert detail.status_code == 404 and "记录已损坏" in detail.text


def test_a_restart_finds_them_again(state: Path, contract: Contract, served: tuple[BloodCenterMock, Caller]) -> None:
    mock, _ = served
    mock.store.close()
    again = BloodCenterMock(contract, SqliteStore(state))
    try:
        assert set(again.centre.damaged) == set(mock.centre.damaged)
    finally:
        again.store.close()
