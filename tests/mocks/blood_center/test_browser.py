"""The trainer's console in headless Debian chromium (installed by scripts/setup): a trainer accepts an order,
issues bags, approves a return and posts a notice by clicking, and the hospital side sees each over SOAP."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mocks.blood_center import BloodCenterMock
from tests.browser import skip_without_chromium
from tests.mocks.blood_center.conftest import Caller, order

pytestmark = skip_without_chromium


def test_a_trainer_works_an_order_through_the_console(centre: BloodCenterMock, call: Caller, page: Any) -> None:
    assert centre.endpoint is not None
    console = f"{centre.endpoint.url}/console/"
    call("SubmitBloodOrder", order=order())

    page.goto(console)
    row = page.locator("tr[data-order=ORD1001]")
    assert "RECEIVED" in row.locator(".status").inner_text()
    row.get_by_role("button", name="确认").click()
    page.wait_for_url("**/console/?msg=*")
    assert "已确认" in page.locator("#message").inner_text()
    assert "ACCEPTED" in page.locator("tr[data-order=ORD1001] .status").inner_text()
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "ACCEPTED"

    page.locator("tr[data-order=ORD1001]").get_by_role("button", name="发血").click()
    page.wait_for_url("**/console/?msg=*")
    assert "发血单 FX" in page.locator("#message").inner_text()
    notes = call("DownloadIssuedUnits", orderNo="ORD1001").issue
    assert len(notes) == 1 and notes[0].unit

    dins = [u.din for u in notes[0].unit]
    units = [{"din": d, "abo": "A", "rhd": "POS", "condition": "INTACT"} for d in dins]
    call("ConfirmReceipt", issueNo=notes[0].issueNo, receivedAt="2026-01-01T12:00:00", receivedBy="输血科", unit=units)
    call("SubmitReturn", returnNo="TH1001", din=dins[:1], reason="QUALITY")
    page.get_by_role("link", name="退血 Returns").click()
    page.locator("tr[data-return=TH1001]").get_by_role("button", name="同意").click()
    page.wait_for_url("**/console/returns?msg=*")
    assert "APPROVED" in page.locator("tr[data-return=TH1001] .status").inner_text()
    assert call("QueryReturnStatus", returnNo="TH1001").status == "APPROVED"

    page.get_by_role("link", name="通知 Notices").click()
    page.select_option("#notice select[name=type]", "SHORTAGE")
    page.fill("#notice input[name=title]", "B 型血小板库存紧张")
    page.fill("#notice input[name=content]", "请各医院合理安排择期手术。")
    page.locator("#notice button").click()
    page.wait_for_url("**/console/notices?msg=*")
    assert "B 型血小板库存紧张" in page.locator("#notices").inner_text()
    titles = [n.title for n in call("QueryNotices", since=datetime.now() - timedelta(days=3)).notice]
    assert titles[-1] == "B 型血小板库存紧张"


def test_the_partial_form_and_a_refusal_show_on_the_order_page(centre: BloodCenterMock, call: Caller, page: Any) -> None:
    assert centre.endpoint is not None
    call("SubmitBloodOrder", order=order())
    page.goto(f"{centre.endpoint.url}/console/")
    page.get_by_role("link", name="ORD1001").click()
    page.fill("#partial input[name=line-1]", "5")
    page.locator("#partial button").click()
    assert "不在 0 到 2 之间" in page.locator("#message").inner_text()
    page.fill("#partial input[name=line-1]", "1")
    page.fill("#partial input[name=reason]", "A 型红细胞紧张")
    page.locator("#partial button").click()
    page.wait_for_url("**/console/?msg=*")
    feedback = call("QueryOrderFeedback", orderNo="ORD1001").feedback
    assert feedback.status == "PARTIAL" and feedback.item[0].reason == "A 型红细胞紧张"


def test_off_loopback_the_browser_is_asked_for_the_token(centre: BloodCenterMock, page: Any) -> None:
    assert centre.endpoint is not None
    centre.console_token = "trainer-token-123"
    try:
        page.goto(f"{centre.endpoint.url}/console/")
        page.fill("input[name=token]", "trainer-token-123")
        page.get_by_role("button", name="进入").click()
        page.wait_for_url("**/console/")
        assert page.locator("#orders").is_visible()
    finally:
        centre.console_token = None
