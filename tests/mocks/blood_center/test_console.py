"""The trainer's console over HTTP: orders listed, actions change the centre's state, errors shown on the page; a
token when the mock is off loopback; forms from another origin refused."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from mocks.blood_center import BloodCenterMock
from tests.mocks.blood_center.conftest import Caller, order


def key(centre: BloodCenterMock, number: str) -> str:
    return quote(f"{centre.hospital}/{number}")


def test_orders_are_listed_and_the_trainer_accepts_and_issues(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    page = web.get("/console/")
    assert page.status_code == 200 and "ORD1001" in page.text and "RECEIVED" in page.text and "悬浮红细胞" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    done = web.post(f"/console/orders/{key(centre, 'ORD1001')}/accept")
    assert done.status_code == 303 and "/console/?msg=" in done.headers["location"]
    assert centre.centre.order(centre.hospital, "ORD1001")["status"] == "ACCEPTED"
    web.post(f"/console/orders/{key(centre, 'ORD1001')}/issue", content=b"dins=")
    detail = web.get(f"/console/orders/{key(centre, 'ORD1001')}")
    assert "ISSUED" in detail.text and "发血单 FX" in detail.text
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "ISSUED"


def test_partial_acceptance_and_errors_on_the_page(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    form = {"Content-Type": "application/x-www-form-urlencoded", "Referer": f"{web.base_url}/console/orders/{key(centre, 'ORD1001')}"}
    bad = web.post(f"/console/orders/{key(centre, 'ORD1001')}/partial", content=b"line-1=two&reason=x", headers=form)
    assert bad.status_code == 303 and "err=1" in bad.headers["location"]
    shown = web.get(bad.headers["location"])
    assert "不是数字" in shown.text and 'class="msg err"' in shown.text
    body = f"line-1=1&line-2=200&reason={quote('库存紧张')}".encode()
    web.post(f"/console/orders/{key(centre, 'ORD1001')}/partial", content=body, headers=form)
    assert centre.centre.order(centre.hospital, "ORD1001")["status"] == "PARTIAL"


def test_returns_and_notices_from_the_console(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    centre.centre.accept(f"{centre.hospital}/ORD1001")
    issue = centre.centre.issue(f"{centre.hospital}/ORD1001")
    units = [{"din": d, "abo": "A", "rhd": "POS", "condition": "INTACT"} for d in issue["dins"]]
    call("ConfirmReceipt", issueNo=issue["issueNo"], receivedAt="2026-01-01T12:00:00", receivedBy="输血科", unit=units)
    call("SubmitReturn", returnNo="TH1001", din=issue["dins"][:1], reason="QUALITY")
    assert "TH1001" in web.get("/console/returns").text
    web.post(f"/console/returns/{key(centre, 'TH1001')}/approve")
    assert call("QueryReturnStatus", returnNo="TH1001").status == "APPROVED"
    posted = web.post("/console/notices", content=f"type=RECALL&title=t&content=c&dins={issue['dins'][1]}".encode())
    assert posted.status_code == 303 and "err" not in posted.headers["location"]
    assert "RECALL" in web.get("/console/notices").text
    assert "可发" in web.get("/console/inventory").text


def test_a_form_from_another_origin_is_refused(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    refused = web.post(f"/console/orders/{key(centre, 'ORD1001')}/accept", headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert centre.centre.order(centre.hospital, "ORD1001")["status"] == "RECEIVED"


def test_off_loopback_the_console_asks_for_its_token(centre: BloodCenterMock, web: httpx.Client) -> None:
    centre.console_token = "trainer-token-123"
    try:
        assert web.get("/console/").status_code == 401
        assert web.post("/console/notices", content=b"type=POLICY&title=t&content=c").status_code == 401
        assert centre.centre.store.count("notices") == 2
        assert web.post("/console/login", content=b"token=wrong").status_code == 401
        login = web.post("/console/login", content=b"token=trainer-token-123")
        assert login.status_code == 303
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert web.get("/console/").status_code == 200
        web.cookies.clear()
        assert web.get("/console/", headers={"Authorization": "Bearer trainer-token-123"}).status_code == 200
    finally:
        centre.console_token = None


def test_a_non_loopback_host_needs_a_token(centre: BloodCenterMock, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.errors import UsageError
    from mocks.transport.runtime import Runtime

    monkeypatch.delenv("HIH_CONSOLE_TOKEN", raising=False)
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    fresh = BloodCenterMock(centre.contract)
    with pytest.raises(UsageError, match="HIH_CONSOLE_TOKEN"):
        fresh.start(Runtime(), "0.0.0.0", 0)
