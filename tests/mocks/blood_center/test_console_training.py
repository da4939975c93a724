"""The trainer's console over a socket: codes in Chinese and local times, the inventory's DINs with filters and a
recall from the list, fault buttons the hospital really meets and their banner, the activity log with the token and
patients masked, named snapshots, the live event stream, drills started and exported from the page; and every new
page and action behind the token, the Host allow-list and the same-origin check."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import zeep.exceptions

from mocks.blood_center import BloodCenterMock
from mocks.blood_center import console_training as training_routes
from mocks.blood_center import snapshots as snapshot_module
from tests.conftest import wait_for
from tests.mocks.blood_center.conftest import Caller, order

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ISO_T = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def message(response: httpx.Response) -> tuple[str, bool]:
    """The message an action redirects back with, and whether it is an error."""
    assert response.status_code == 303, response.text[:300]
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["msg"][0], query.get("err") == ["1"]


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


# -- labels and times ---------------------------------------------------------------------------------------------
def test_codes_show_in_chinese_and_times_in_local_time(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order(wantedAt="2026-01-01T10:00:00"))
    utc = order("ORD1002", urgency="EMERGENCY", wantedAt=datetime(2026, 1, 1, 2, 0).astimezone().astimezone(
        tz=datetime.now().astimezone().tzinfo))
    call("SubmitBloodOrder", order=utc)
    centre.centre.recall([centre.centre.bags(status="AVAILABLE")[0]["din"]])

    orders = text_of(web.get("/console/").text)
    notices = text_of(web.get("/console/notices").text)

    assert "紧急" in orders and "特急" in orders and "已接收" in orders and "悬浮红细胞" in orders and "A 型 RhD 阳性" in orders
    assert "2026-01-01 10:00" in orders and "2026-01-01 02:00" in orders
    assert "召回" in notices and "库存紧张" in notices and "政策通知" in notices
    for page in (orders, notices, text_of(web.get(f"/console/orders/{quote(centre.hospital + '/ORD1001', safe='')}").text)):
        assert not ISO_T.search(page), ISO_T.search(page)


# -- inventory ------------------------------------------------------------------------------------------------------
def test_the_inventory_lists_in_stock_dins_by_product_group_and_expiry(centre: BloodCenterMock, web: httpx.Client) -> None:
    page = web.get("/console/inventory", params={"product": "E0005", "abo": "A", "rhd": "POS"})
    listed = re.findall(r'<tr data-din="(\w+)">', page.text)
    in_stock = {b["din"] for b in centre.centre.in_stock("E0005", "A", "POS")}

    assert listed and set(listed) == in_stock
    assert "单采血小板" in page.text and "在库可发" in page.text
    soon = re.findall(r'<tr data-din="(\w+)">', web.get("/console/inventory", params={"expiry": "3"}).text)
    now = centre.centre.now()
    assert soon and all(now < datetime.fromisoformat(centre.centre.store.get("inventory", d)["expiresAt"]) <= now + timedelta(days=3)
                        for d in soon)
    expired = re.findall(r'<tr data-din="(\w+)">', web.get("/console/inventory", params={"state": "EXPIRED"}).text)
    assert expired and all(centre.centre.expired(centre.centre.store.get("inventory", d)) for d in expired)
    assert "<input type=\"checkbox\"" not in web.get("/console/inventory", params={"state": "EXPIRED"}).text


def test_an_unknown_filter_is_a_message_not_an_error_page(web: httpx.Client) -> None:
    page = web.get("/console/inventory", params={"abo": "Z<script>"})
    assert page.status_code == 400
    assert "筛选条件 abo=" in page.text and "<script>" not in page.text


def test_bags_picked_from_the_list_are_recalled_and_never_issued(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    stock = [b["din"] for b in centre.centre.in_stock("E0001", "A", "POS")]
    picked = stock[:2]
    body = "&".join(f"din={d}" for d in picked) + "&content=" + quote("献血者复检阳性")
    posted = web.post("/console/inventory/recall", content=body.encode(), headers=FORM)

    said, error = message(posted)
    assert not error and "召回通知 TZ" in said and "2 袋不再发出" in said
    assert [centre.centre.store.get("inventory", d)["status"] for d in picked] == ["RECALLED", "RECALLED"]
    recall = call("QueryNotices", since=datetime.now() - timedelta(days=1)).notice[-1]
    assert recall.type == "RECALL" and list(recall.din) == picked and recall.content == "献血者复检阳性"
    call("SubmitBloodOrder", order=order(item=[{"lineNo": 1, "productCode": "E0001", "abo": "A", "rhd": "POS",
                                               "quantity": 4, "unit": "U"}]))
    centre.centre.accept(f"{centre.hospital}/ORD1001")
    issued = centre.centre.issue(f"{centre.hospital}/ORD1001")
    assert not set(issued["dins"]) & set(picked)


def test_a_recall_with_nothing_picked_is_refused(centre: BloodCenterMock, web: httpx.Client) -> None:
    posted = web.post("/console/inventory/recall", content=b"content=x", headers={**FORM, "Referer": f"{web.base_url}/console/inventory"})
    assert message(posted) == ("请先勾选要召回的血袋", True)
    assert centre.centre.store.count("notices") == 2


# -- faults ---------------------------------------------------------------------------------------------------------
def arm(web: httpx.Client, operation: str, kind: str, **fields: str) -> httpx.Response:
    data = {"arm": f"{operation}|{kind}", "times": "1", "phase": "before", "delay_s": "10", **fields}
    return web.post("/console/faults", data=data, headers={"Referer": f"{web.base_url}/console/faults"})


def test_centre_busy_and_soap_fault_reach_the_hospital_as_soap_faults(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    said, error = message(arm(web, "QueryNotices", "busy"))
    assert not error and said == "已布置故障：血站通知 QueryNotices — 血站繁忙（剩 1 次）"
    banner = web.get("/console/").text
    assert 'id="fault-banner"' in banner and "血站通知 QueryNotices — 血站繁忙（剩 1 次，处理前）" in banner

    with pytest.raises(zeep.exceptions.Fault) as busy:
        call("QueryNotices", since=datetime.now())
    assert busy.value.code.endswith("Server.Busy") and busy.value.message == "血液中心系统繁忙，请稍后再试"
    assert 'id="fault-banner"' not in web.get("/console/").text, "used up: the banner goes"

    arm(web, "*", "soap_fault", times="3")
    with pytest.raises(zeep.exceptions.Fault) as internal:
        call("QueryOrderFeedback", orderNo="ORD1001")
    assert internal.value.code.endswith("Server") and "内部错误" in internal.value.message
    assert [f.times for f in centre.faults.armed()] == [2]


def test_a_delay_and_no_reply_are_what_the_hospital_meets(centre: BloodCenterMock, web: httpx.Client) -> None:
    assert centre.endpoint is not None
    arm(web, "QueryNotices", "latency", delay_s="0.4")
    envelope = ("<?xml version='1.0' encoding='utf-8'?><soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\">"
                "<soap-env:Header><ns0:AuthHeader xmlns:ns0=\"urn:hih:blood-center:service\">"
                f"<ns0:HospitalCode>{centre.hospital}</ns0:HospitalCode><ns0:Token>{centre.token}</ns0:Token></ns0:AuthHeader>"
                "</soap-env:Header><soap-env:Body><ns0:QueryNotices xmlns:ns0=\"urn:hih:blood-center:service\">"
                "<ns0:since>2020-01-01T00:00:00</ns0:since></ns0:QueryNotices></soap-env:Body></soap-env:Envelope>").encode()
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:blood-center:QueryNotices"'}
    started = time.monotonic()
    answered = httpx.post(centre.service_url, content=envelope, headers=headers, timeout=5)
    assert answered.status_code == 200, answered.text
    assert time.monotonic() - started >= 0.4

    arm(web, "QueryNotices", "no_reply", phase="after")
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(centre.service_url, content=envelope, headers=headers, timeout=0.5)
    assert centre.journal.last("QueryNotices").fault == "no_reply"  # type: ignore[union-attr]


@pytest.mark.parametrize(("fields", "refusal"), [
    ({"arm": "QueryNotices|explode"}, "没有故障类型 explode"),
    ({"arm": "DropTables|busy"}, "没有操作 DropTables"),
    ({"arm": "QueryNotices|latency", "delay_s": "NaN"}, "延迟秒数要在 0.1 到 300 之间，现为 NaN"),
    ({"arm": "QueryNotices|latency", "delay_s": "301"}, "延迟秒数要在 0.1 到 300 之间，现为 301"),
    ({"arm": "QueryNotices|latency", "delay_s": "十"}, "延迟秒数 '十' 不是数字"),
    ({"arm": "QueryNotices|busy", "times": "1000"}, "次数只能是 1 次、3 次或持续"),
    ({"arm": "QueryNotices|busy", "phase": "during"}, "时机只能是处理前或处理后"),
])
def test_a_fault_button_with_bad_fields_is_refused(centre: BloodCenterMock, web: httpx.Client, fields: dict[str, str],
                                                  refusal: str) -> None:
    posted = web.post("/console/faults", data={"times": "1", "phase": "before", "delay_s": "10", **fields},
                      headers={"Referer": f"{web.base_url}/console/faults"})
    assert message(posted) == (refusal, True)
    assert centre.faults.armed() == []


def test_armed_faults_are_bounded_and_cleared_at_once(centre: BloodCenterMock, web: httpx.Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training_routes, "MAX_ARMED", 2)
    arm(web, "QueryNotices", "busy", times="always")
    arm(web, "*", "no_reply")
    assert message(arm(web, "QueryNotices", "busy")) == ("最多同时布置 2 个故障：请先清除", True)
    page = web.get("/console/faults").text
    assert "全部操作 — 不应答" in page and "持续" in page

    assert message(web.post("/console/faults/clear")) == ("已清除全部故障", False)
    assert centre.faults.armed() == []


# -- activity -------------------------------------------------------------------------------------------------------
def test_the_activity_log_shows_what_the_hospital_sent_and_got(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    centre.inject("error_reply", operation="QueryOrderFeedback", code="Server.Busy", message="血液中心系统繁忙", phase="before")
    with pytest.raises(zeep.exceptions.Fault):
        call("QueryOrderFeedback", orderNo="ORD1001")
    call("QueryCrossmatchResults", sampleNo="PX0000000001")

    page = web.get("/console/activity").text
    rows = re.findall(r'<tr data-exchange="\d+">(.*?)</tr>', page, re.S)

    assert len(rows) == 3
    newest, busy, first = (text_of(r) for r in rows)
    assert "血站配型结果" in newest and "PX0000000001" in newest and "0 成功" in newest
    assert "预约反馈" in busy and "SOAP 故障 soap-env:Server.Busy：血液中心系统繁忙" in busy and "SOAP 故障" in busy
    assert "用血预约" in first and "ORD1001" in first and "0 成功" in first and "符合" in first
    assert centre.token not in page and "&lt;ns0:Token&gt;***&lt;/ns0:Token&gt;" in page
    assert "张秀英" not in page and "张**" in page, "patients' names are masked"
    assert "ZY2025000123" not in page


def test_the_activity_log_filters_by_operation(call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    call("QueryOrderFeedback", orderNo="ORD1001")
    page = web.get("/console/activity", params={"operation": "QueryOrderFeedback"}).text
    assert len(re.findall(r'<tr data-exchange=', page)) == 1 and "预约反馈" in text_of(page)


# -- snapshots ------------------------------------------------------------------------------------------------------
def test_a_named_snapshot_is_saved_and_restored(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    assert message(web.post("/console/snapshots", data={"name": "第二课开始"})) == ("已保存快照「第二课开始」", False)
    centre.centre.accept(f"{centre.hospital}/ORD1001")
    centre.centre.issue(f"{centre.hospital}/ORD1001")
    call("SubmitBloodOrder", order=order("ORD1002"))
    centre.inject("no_reply", operation="QueryNotices")

    restored = web.post("/console/snapshots/restore", data={"name": "第二课开始"})

    assert message(restored) == ("血站已恢复到快照「第二课开始」", False)
    assert [o["orderNo"] for o in centre.centre.orders()] == ["ORD1001"]
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "RECEIVED"
    assert centre.centre.bags(status="ISSUED") == [], "the bags issued after the snapshot are back in stock"
    assert centre.faults.armed() == [] and len(centre.journal) == 1, "faults cleared; the activity log starts again"
    assert "第二课开始" in web.get("/console/snapshots").text

    web.post("/console/snapshots/restore", data={"name": "初始库存"})
    assert centre.centre.orders() == [] and centre.centre.store.count("inventory") == 238
    assert message(web.post("/console/snapshots/delete", data={"name": "第二课开始"})) == ("已删除快照「第二课开始」", False)
    assert centre.training.snapshots.list() == []


@pytest.mark.parametrize(("name", "refusal"), [
    ("", "请填写快照名称"), ("课" * 41, "快照名称最长 40 个字符，现为 41 个"), ("初始库存", "「初始库存」是内置快照，请换一个名称"),
    ("a\u0000b", "快照名称含有控制字符 U+0000"),
])
def test_a_bad_snapshot_name_is_refused(centre: BloodCenterMock, web: httpx.Client, name: str, refusal: str) -> None:
    posted = web.post("/console/snapshots", data={"name": name}, headers={"Referer": f"{web.base_url}/console/snapshots"})
    said, error = message(posted)
    assert error and said.startswith(refusal)
    assert centre.training.snapshots.list() == []


def test_snapshots_are_bounded(centre: BloodCenterMock, web: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot_module, "MAX_SNAPSHOTS", 2)
    for name in ("一", "二"):
        web.post("/console/snapshots", data={"name": name})
    assert message(web.post("/console/snapshots", data={"name": "三"})) == ("最多保存 2 个快照：请先删除不用的快照", True)
    assert message(web.post("/console/snapshots", data={"name": "二"}))[1] is False, "replacing one is allowed"
    assert message(web.post("/console/snapshots/restore", data={"name": "四"})) == ("没有名为「四」的快照", True)


# -- live updates ---------------------------------------------------------------------------------------------------
def test_the_event_stream_says_when_the_hospital_acted(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    since = re.search(r'data-revision="([^"]+)"', web.get("/console/").text)
    assert since is not None
    events: list[str] = []

    def listen() -> None:
        with web.stream("GET", "/console/events", params={"since": since.group(1)}, timeout=10) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                events.append(line)
                if line.startswith("event: change"):
                    return

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.6)
    assert "event: change" not in events, "nothing changed yet"
    call("SubmitBloodOrder", order=order())
    listener.join(5)
    assert not listener.is_alive() and events[-1] == "event: change"


def test_event_streams_are_bounded(web: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training_routes, "MAX_STREAMS", 0)
    refused = web.get("/console/events")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"


# -- drills from the page ------------------------------------------------------------------------------------------
def test_a_drill_is_started_followed_abandoned_and_exported_from_the_page(centre: BloodCenterMock, call: Caller,
                                                                        web: httpx.Client) -> None:
    assert message(web.post("/console/drills/start", data={"drill": "recall", "trainee": "张三"})) == \
        ("演练「血袋召回」已开始，学员 张三", False)
    call("SubmitBloodOrder", order=order())
    page = web.get("/console/drills").text
    assert 'class="progress">1/5<' in page and '<li data-goal="order" class="ok">✓ 提交用血预约单' in page
    assert '<li data-goal="receive" class="now">' in page
    assert "演练进行中" in web.get("/console/inventory").text, "every page shows the running drill"

    assert message(web.post("/console/drills/abandon"))[0] == "演练「血袋召回」已结束（放弃），完成 1/5"
    exported = web.get("/console/drills/records.csv")
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == 'attachment; filename="drill-records.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["学员"], r["演练"], r["状态"], r["完成目标数"]) for r in rows] == [("张三", "血袋召回", "已放弃", "1")]

    assert message(web.post("/console/drills/records/clear")) == ("请先导出记录，并勾选“已导出，确认清除”", True)
    assert message(web.post("/console/drills/records/clear", data={"confirm": "yes"})) == ("已清除 1 条已结束的演练记录", False)


def test_each_drill_has_a_page_for_the_trainee(web: httpx.Client) -> None:
    page = web.get("/console/drills/outage-backfill")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "预约单号 DH000001" in shown and "电话预约 DH000001" in shown and "全部操作 — 连接重置（剩 3 次，处理前）" in shown
    assert web.get("/console/drills/nothing-here").status_code == 404


# -- the layers every new route is behind -----------------------------------------------------------------------------
PAGES = ["/console/inventory", "/console/faults", "/console/activity", "/console/snapshots", "/console/drills",
         "/console/drills/recall", "/console/drills/records.csv", "/console/events", "/console/static/console.js"]
ACTIONS = [("/console/faults", "arm=QueryNotices%7Cbusy&times=1&phase=before"), ("/console/faults/clear", ""),
           ("/console/snapshots", "name=x"), ("/console/snapshots/restore", "name=%E5%88%9D%E5%A7%8B%E5%BA%93%E5%AD%98"),
           ("/console/snapshots/delete", "name=x"), ("/console/drills/start", "drill=partial&trainee=x"),
           ("/console/drills/abandon", ""), ("/console/drills/records/clear", "confirm=yes"),
           ("/console/inventory/recall", "din=B32012610001011")]


def test_off_loopback_every_new_page_and_action_asks_for_the_token(centre: BloodCenterMock, web: httpx.Client) -> None:
    centre.console_token = "trainer-token-123"
    before = (centre.training.runs.count(), centre.faults.armed(), centre.store.revision)
    try:
        for path in PAGES:
            refused = web.get(path)
            assert refused.status_code == 401 and "令牌" in refused.text, path
        for path, body in ACTIONS:
            assert web.post(path, content=body.encode(), headers=FORM).status_code == 401, path
        assert (centre.training.runs.count(), centre.faults.armed(), centre.store.revision) == before
        assert web.get("/console/faults", headers={"Authorization": "Bearer trainer-token-123"}).status_code == 200
    finally:
        centre.console_token = None


@pytest.mark.parametrize(("path", "body"), ACTIONS)
def test_every_new_action_refuses_another_site_and_another_host(centre: BloodCenterMock, web: httpx.Client, path: str,
                                                              body: str) -> None:
    revision = centre.store.revision
    assert web.post(path, content=body.encode(), headers={**FORM, "Origin": "http://evil.example"}).status_code == 403
    assert web.post(path, content=body.encode(), headers={**FORM, "Host": "attacker.example"}).status_code == 400
    assert centre.store.revision == revision and centre.faults.armed() == []


def test_pages_allow_only_their_own_script(web: httpx.Client) -> None:
    policy = web.get("/console/").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert web.get("/console/static/console.js").headers["content-type"].startswith("text/javascript")


def test_a_refusal_armed_over_the_admin_api_is_named_in_the_console_once_the_port_is_back(
        centre: BloodCenterMock, web: httpx.Client) -> None:
    """The console shares the centre's port, so it cannot show a refusal while it lasts; it lists it among the
    fired faults by its Chinese name and window once the centre listens again."""
    centre.inject("refuse", window_s=0.3)
    with pytest.raises(httpx.ConnectError):
        web.get("/console/faults")
    wait_for(lambda: centre.faults.armed() == [])
    # the window's end takes the fault away at once; the port listens again a moment later, on the mock's loop
    wait_for(lambda: listens(web.base_url.host, web.base_url.port), timeout=10.0)
    assert "拒绝连接 0.3 秒" in text_of(web.get("/console/faults").text)


def listens(host: str, port: int | None) -> bool:
    """Whether a connection to host:port is accepted now (False when it is refused)."""
    try:
        socket.create_connection((host, port or 80), timeout=1.0).close()
    except ConnectionRefusedError:
        return False
    return True
