"""The trainer's console under hostile input, over a socket: writes are checked like the answers they feed and refused
on the form in Chinese, the answers stay within the contract, oversized forms are refused before they are read,
requests by another host name or from another site are refused, and a refusal never redirects off the console."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from mocks.blood_center import BloodCenterMock
from tests.mocks import rawhttp
from tests.mocks.blood_center.conftest import Caller, order

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def key(centre: BloodCenterMock, number: str) -> str:
    return quote(f"{centre.hospital}/{number}", safe="")


def refusal(response: httpx.Response, back_to: str = "/console/notices") -> str:
    """The Chinese message a refused action redirects back with (to a console path)."""
    assert response.status_code == 303, response.text[:300]
    target = urlsplit(response.headers["location"])
    assert (target.scheme, target.netloc, target.path) == ("", "", back_to)
    query = parse_qs(target.query)
    assert query["err"] == ["1"]
    return query["msg"][0]


def notices_answer(call: Caller) -> list[str]:
    reply = call("QueryNotices", since=datetime.now() - timedelta(days=30))
    assert reply.ResultCode == "0", reply.ResultMessage
    return [n.title for n in reply.notice]


def test_a_notice_with_a_control_character_is_refused_on_the_form(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    before = notices_answer(call)
    posted = web.post("/console/notices", content=b"type=POLICY&title=%E9%80%9A%01%E7%9F%A5&content=c",
                      headers={**FORM, "Referer": f"{web.base_url}/console/notices"})
    assert refusal(posted) == "标题含有控制字符 U+0001（第 2 个字符），请删除后重试"
    assert notices_answer(call) == before, "nothing kept, and QueryNotices still answers"
    shown = web.get(posted.headers["location"])
    assert "标题含有控制字符 U+0001" in shown.text and 'class="msg err"' in shown.text


def test_a_recall_of_201_dins_is_refused_and_200_are_accepted(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    dins = [bag["din"] for bag in centre.centre.bags()]
    assert len(dins) >= 201
    body = f"type=RECALL&title=t&content=c&dins={','.join(dins[:201])}".encode()
    posted = web.post("/console/notices", content=body, headers={**FORM, "Referer": f"{web.base_url}/console/notices"})
    assert refusal(posted) == "献血码最多 200 个，现为 201 个"
    assert centre.centre.bags(status="RECALLED") == [], "a refused recall recalls nothing"
    body = f"type=RECALL&title=t&content=c&dins={','.join(dins[:200])}".encode()
    assert "err" not in web.post("/console/notices", content=body, headers=FORM).headers["location"]
    notices = call("QueryNotices", since=datetime.now() - timedelta(days=30)).notice
    assert len(notices[-1].din) == 200


def test_a_long_reject_reason_is_refused_and_feedback_stays_in_contract(centre: BloodCenterMock, call: Caller, web: httpx.Client) -> None:
    call("SubmitBloodOrder", order=order())
    where = f"{web.base_url}/console/orders/{key(centre, 'ORD1001')}"
    posted = web.post(f"/console/orders/{key(centre, 'ORD1001')}/reject", content=f"reason={'缺' * 300}".encode(),
                      headers={**FORM, "Referer": where})
    assert refusal(posted, f"/console/orders/{key(centre, 'ORD1001')}") == "原因最长 200 个字符，现为 300 个"
    feedback = call("QueryOrderFeedback", orderNo="ORD1001")
    assert feedback.ResultCode == "0" and feedback.feedback.status == "RECEIVED"
    assert centre.journal.last("QueryOrderFeedback").response_valid  # type: ignore[union-attr]
    posted = web.post(f"/console/orders/{key(centre, 'ORD1001')}/reject", content=f"reason={'缺' * 200}".encode(), headers=FORM)
    assert "err" not in posted.headers["location"]
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.reason == "缺" * 200


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "1e999999999999", "٣"])
def test_a_quantity_that_is_not_a_number_is_refused(centre: BloodCenterMock, call: Caller, web: httpx.Client, value: str) -> None:
    call("SubmitBloodOrder", order=order())
    posted = web.post(f"/console/orders/{key(centre, 'ORD1001')}/partial", content=f"line-1={quote(value)}&reason=x".encode(),
                      headers=FORM)
    message = refusal(posted, "/console/")
    assert "确认数量" in message or "不在 0 到" in message
    assert call("QueryOrderFeedback", orderNo="ORD1001").feedback.status == "RECEIVED"


def test_a_form_that_is_not_utf8_is_refused(centre: BloodCenterMock, web: httpx.Client) -> None:
    posted = web.post("/console/notices", content=b"type=POLICY&title=%FF%FE&content=c", headers=FORM)
    assert refusal(posted, "/console/").startswith("表单内容不是 UTF-8")
    assert centre.centre.store.count("notices") == 2


@pytest.mark.parametrize("referer", ["http://127.0.0.1//evil.example/x", "//evil.example/x", "http://evil.example//evil/x",
                                     "/console/..%2F..%2Fevil", "/\\evil.example/x", "javascript:alert(1)"])
def test_a_refusal_never_redirects_off_the_console(web: httpx.Client, referer: str) -> None:
    posted = web.post("/console/notices", content=b"type=BAD&title=t&content=c", headers={**FORM, "Referer": referer})
    assert refusal(posted, "/console/") == "通知类型 BAD 无效"
    assert "evil" not in posted.headers["location"]


# -- size ---------------------------------------------------------------------------------------------------------
def test_an_oversized_login_is_refused_before_it_is_read(centre: BloodCenterMock) -> None:
    assert centre.endpoint is not None
    centre.console_token = "trainer-token-123"
    try:
        head = (f"POST /console/login HTTP/1.1\r\nHost: 127.0.0.1:{centre.endpoint.port}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {100 * 2**20}\r\n\r\n").encode()
        answer = rawhttp.raw_exchange(centre.endpoint.port, head, [b"token=" + b"x" * 2**20] * 4)
    finally:
        centre.console_token = None
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert "请求报文过大".encode() in answer and b"Traceback" not in answer


def test_a_streamed_oversized_form_is_cut_off(centre: BloodCenterMock, web: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"type=POLICY&title=t&content="
        for _ in range(64):
            yield b"x" * 16384

    try:
        response = web.post("/console/notices", content=chunks(), headers=FORM)
    except httpx.TransportError:
        response = None  # answered and closed while still sending: also refused
    if response is not None:
        assert response.status_code == 413
    assert centre.centre.store.count("notices") == 2


# -- hosts and origins --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8088", "127.0.0.1.nip.io", "", "[::1", "a b"])
def test_a_request_by_another_host_name_is_refused(web: httpx.Client, host: str) -> None:
    refused = web.get("/console/", headers={"Host": host})
    assert refused.status_code == 400 and "--allow-host" in refused.text
    posted = web.post("/console/notices", content=b"type=POLICY&title=t&content=c", headers={**FORM, "Host": host})
    assert posted.status_code == 400


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:1", "[::1]:8088"])
def test_loopback_names_are_allowed(web: httpx.Client, host: str) -> None:
    assert web.get("/console/", headers={"Host": host}).status_code == 200


def test_more_host_names_can_be_allowed(centre: BloodCenterMock, web: httpx.Client) -> None:
    from mocks.transport.origin import HostAllowList

    saved = centre.allowed_hosts
    centre.allowed_hosts = HostAllowList.for_bind("127.0.0.1", ["training.hospital.local"])
    try:
        assert web.get("/console/", headers={"Host": "training.hospital.local:8088"}).status_code == 200
        assert web.get("/console/", headers={"Host": "attacker.example"}).status_code == 400
    finally:
        centre.allowed_hosts = saved


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": "null"},
                                     {"Origin": "http://127.0.0.1:1"}, {"Sec-Fetch-Site": "cross-site"}])
def test_a_form_from_another_site_is_refused(centre: BloodCenterMock, web: httpx.Client, headers: dict[str, str]) -> None:
    posted = web.post("/console/notices", content=b"type=POLICY&title=t&content=c", headers={**FORM, **headers})
    assert posted.status_code == 403
    assert centre.centre.store.count("notices") == 2


def test_a_form_from_the_console_itself_is_accepted(centre: BloodCenterMock, web: httpx.Client) -> None:
    origin = str(web.base_url).rstrip("/")
    posted = web.post("/console/notices", content=b"type=POLICY&title=t&content=c",
                      headers={**FORM, "Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert posted.status_code == 303 and "err" not in posted.headers["location"]
