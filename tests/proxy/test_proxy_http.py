"""The HTTP proxy over real sockets, in front of a real `hih mock serve` process: JSON (insurance) and SOAP (blood
centre) through the reference connectors, the recording and its masking, --strict, an upstream that is down or
silent, the admin API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from harness.cli import main
from harness.contract import recording
from harness.contract.signing import tif_headers
from harness.proxy.core import Proxy
from mocks.insurance import TEST_PAASID, TEST_SECRET
from tests.conftest import CONTRACTS, envelope
from tests.proxy.conftest import (
    SHARED_UPSTREAM,
    Upstream,
    blood_center_flow,
    insurance_flow,
    mch_flow,
    mock_serve,
    proxy_serve,
    recorded,
)

pytestmark = pytest.mark.slow


def url_of(proxy: Proxy) -> str:
    assert proxy.endpoint is not None
    return proxy.endpoint.url


@SHARED_UPSTREAM
def test_the_reference_insurance_connector_through_the_proxy_records_without_findings(
        tmp_path: Path, insurance_upstream: Upstream, proxy_on: Callable[..., Proxy],
        capsys: pytest.CaptureFixture[str]) -> None:
    person = insurance_upstream.population("insurance")["people"][0]
    proxy = proxy_on("insurance", insurance_upstream.where, record=tmp_path / "rec")
    result = insurance_flow(url_of(proxy), person["certno"])
    upstream_saw = [e["operation"] for e in insurance_upstream.journal("insurance")]
    journal = httpx.get(f"{url_of(proxy)}/__hih/", timeout=5)  # the proxy's own port forwards everything
    proxy.recorder.close()  # type: ignore[union-attr]

    exchanges = recorded(tmp_path / "rec")
    assert [e.transaction for e in exchanges] == upstream_saw == ["9001", "1101", "2201", "2204", "2207"]
    assert all(e.reply is not None for e in exchanges)
    assert [(e.transaction, str(f)) for e in exchanges for m in (e.request, e.reply) if m for f in m.findings] == []
    assert result["medins_setl_id"] == result["msgid"], "the settlement answered through the proxy is the one sent"
    text = (tmp_path / "rec" / recording.LINES).read_text(encoding="utf-8")
    assert person["certno"] not in text and person["psn_name"] not in text, "identifiers are masked in the recording"
    assert person["certno"][:4] + "**********" + person["certno"][-4:] in text
    meta = recording.read_meta(tmp_path / "rec")
    assert (meta.interface, meta.contract, meta.upstream, meta.masked) == ("insurance", "2025.1",
                                                                          insurance_upstream.where, True)
    assert journal.status_code == 405 and journal.json()["infcode"] == -1  # the partner's own answer to a GET

    assert main(["validate", "--interface", "insurance", "--contracts-dir", str(CONTRACTS), str(tmp_path / "rec")]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": ok ") == 10 and "ERROR" not in printed


@SHARED_UPSTREAM
def test_hih_proxy_as_a_process_shows_its_journal_masked_and_refuses_other_hosts(
        tmp_path: Path, insurance_upstream: Upstream) -> None:
    person = insurance_upstream.population("insurance")["people"][0]
    with proxy_serve("insurance", insurance_upstream.where, tmp_path, "--record", str(tmp_path / "rec")) as banner:
        insurance_flow(banner["insurance"], person["certno"])
        admin = banner["admin"]
        entries = httpx.get(f"{admin}insurance/journal", timeout=5).json()["entries"]
        described = httpx.get(admin, timeout=5).json()["mocks"][0]
        refused = httpx.get(admin, headers={"Host": "evil.example"}, timeout=5)
        refused_journal = httpx.get(f"{admin}insurance/journal", headers={"Host": "evil.example"}, timeout=5)

    assert banner["insurance"].startswith("http://127.0.0.1:") and admin.startswith("http://127.0.0.1:")
    assert [e["operation"] for e in entries] == ["9001", "1101", "2201", "2204", "2207"]
    shown = json.dumps(entries, ensure_ascii=False)
    assert person["certno"] not in shown and person["psn_name"] not in shown, "the journal is read masked"
    assert all(e["request_findings"] == [] and e["response_findings"] == [] for e in entries)
    assert described["proxy"] is True and described["upstream"] == insurance_upstream.where
    assert refused.status_code == 400 and refused_journal.status_code == 400
    assert person["certno"] not in refused_journal.text
    exchanges = recorded(tmp_path / "rec")  # written and closed when the process stopped
    assert [e.transaction for e in exchanges] == ["9001", "1101", "2201", "2204", "2207"]


def signed(body: dict[str, object]) -> dict[str, str]:
    from harness.contract.loader import ContractStore

    signing = ContractStore(CONTRACTS).load("insurance").signing
    return {**tif_headers(signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json;charset=utf-8"}


@SHARED_UPSTREAM
def test_strict_refuses_a_request_that_breaks_the_contract_and_never_forwards_it(
        tmp_path: Path, insurance_upstream: Upstream, proxy_on: Callable[..., Proxy]) -> None:
    body = envelope("1101", {"data": {"mdtrt_cert_type": "02"}}, sign_no="20260101000000000001")  # mdtrt_cert_no missing
    proxy = proxy_on("insurance", insurance_upstream.where, strict=True, record=tmp_path / "rec")
    reply = httpx.post(f"{url_of(proxy)}/fsi/api/fsiPsnInfoService/queryPsnInfo",
                       content=json.dumps(body, ensure_ascii=False).encode(), headers=signed(body), timeout=5)
    upstream_saw = insurance_upstream.journal("insurance")
    proxy.recorder.close()  # type: ignore[union-attr]

    answer = reply.json()
    assert reply.status_code == 200 and answer["infcode"] == -1
    assert "--strict" in answer["err_msg"] and "mdtrt_cert_no" in answer["err_msg"]
    assert upstream_saw == [], "the partner never saw it"
    [exchange] = recorded(tmp_path / "rec")
    assert exchange.reply is None and any(f.location == "/input/data/mdtrt_cert_no" for f in exchange.request.findings)
    [entry] = proxy.journal.entries()
    assert entry.meta["refused"] == "strict"


@SHARED_UPSTREAM
def test_strict_refuses_an_invalid_soap_request_with_a_client_fault(tmp_path: Path, blood_center_upstream: Upstream,
                                                                  proxy_on: Callable[..., Proxy]) -> None:
    body = (b'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:b="urn:hih:blood-center:service"><s:Body><b:SubmitBloodOrder><b:order><b:orderNo>X1</b:orderNo>'
            b'</b:order></b:SubmitBloodOrder></s:Body></s:Envelope>')
    proxy = proxy_on("blood-center", blood_center_upstream.where, strict=True)
    reply = httpx.post(f"{url_of(proxy)}/BloodCenterService", content=body, timeout=5,
                       headers={"Content-Type": "text/xml; charset=utf-8", "X-Token": "hih-blood-center-test-token"})
    upstream_saw = blood_center_upstream.journal("blood-center")

    assert reply.status_code == 500 and "<faultcode>soap-env:Client</faultcode>" in reply.text
    assert "hih proxy (--strict): 请求不符合接口合同，未转发" in reply.text
    assert upstream_saw == [], "the partner never saw it"
    [entry] = proxy.journal.entries()
    assert entry.operation == "SubmitBloodOrder" and entry.meta["refused"] == "strict"
    assert any(f.location.endswith("/order/orderNo") for f in entry.request_findings)


@SHARED_UPSTREAM
def test_without_strict_an_invalid_request_is_forwarded_and_its_findings_journaled(
        tmp_path: Path, insurance_upstream: Upstream, proxy_on: Callable[..., Proxy]) -> None:
    body = envelope("1101", {"data": {"mdtrt_cert_type": "02"}}, sign_no="20260101000000000001")
    proxy = proxy_on("insurance", insurance_upstream.where)
    reply = httpx.post(f"{url_of(proxy)}/fsi/api/fsiPsnInfoService/queryPsnInfo",
                       content=json.dumps(body, ensure_ascii=False).encode(), headers=signed(body), timeout=5)
    upstream_saw = [e["operation"] for e in insurance_upstream.journal("insurance")]

    assert reply.json()["infcode"] == -1 and "--strict" not in reply.json()["err_msg"]  # the partner's own refusal
    assert upstream_saw == ["1101"]
    deadline = time.monotonic() + 3
    while not proxy.journal.entries()[0].request_findings and time.monotonic() < deadline:
        time.sleep(0.01)  # checked once the reply is on its way back
    assert any(f.location == "/input/data/mdtrt_cert_no" for f in proxy.journal.entries()[0].request_findings)


def test_an_upstream_that_is_down_is_a_502_in_the_protocols_words(tmp_path: Path,
                                                                  proxy_on: Callable[..., Proxy]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket is closed
    proxy = proxy_on("insurance", f"http://127.0.0.1:{port}", record=tmp_path / "rec")
    body = envelope("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})
    started = time.monotonic()
    reply = httpx.post(f"{url_of(proxy)}/fsi/api/signInSignOutService/signIn", content=json.dumps(body).encode(),
                       headers=signed(body), timeout=10)

    assert time.monotonic() - started < 5
    assert reply.status_code == 502 and reply.json()["infcode"] == -1 and "无法连接上游" in reply.json()["err_msg"]
    [entry] = proxy.journal.entries()
    assert [f.rule for f in entry.response_findings] == ["upstream"]


@SHARED_UPSTREAM
def test_an_upstream_that_never_answers_is_a_504_after_the_timeout(tmp_path: Path, insurance_upstream: Upstream,
                                                                   proxy_on: Callable[..., Proxy]) -> None:
    body = envelope("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})
    insurance_upstream.fault("insurance", kind="no_reply", operation="9001", delay_s=30)
    proxy = proxy_on("insurance", insurance_upstream.where, timeout_s=0.5)
    started = time.monotonic()
    reply = httpx.post(f"{url_of(proxy)}/fsi/api/signInSignOutService/signIn",
                       content=json.dumps(body).encode(), headers=signed(body), timeout=10)
    waited = time.monotonic() - started

    assert 0.5 <= waited < 3
    assert reply.status_code == 504 and "0.5 秒内未应答" in reply.json()["err_msg"]
    assert "no answer within the time allowed" in proxy.journal.entries()[0].response_findings[0].message


@SHARED_UPSTREAM
def test_the_blood_centre_through_the_proxy_with_the_wsdl_pointing_at_the_proxy(
        tmp_path: Path, blood_center_upstream: Upstream, proxy_on: Callable[..., Proxy]) -> None:
    proxy = proxy_on("blood-center", blood_center_upstream.where, record=tmp_path / "rec")
    wsdl = httpx.get(f"{url_of(proxy)}/BloodCenterService?wsdl", timeout=5).text
    result = blood_center_flow(f"{url_of(proxy)}/BloodCenterService?wsdl", tmp_path)
    upstream_saw = [e["operation"] for e in blood_center_upstream.journal("blood-center") if e["operation"]]
    proxy.recorder.close()  # type: ignore[union-attr]

    assert f'location="{url_of(proxy)}/BloodCenterService"' in wsdl and blood_center_upstream.where not in wsdl
    assert result["status"] == "RECEIVED" and result["notices"] >= 1
    exchanges = recorded(tmp_path / "rec")
    assert [e.transaction for e in exchanges] == upstream_saw == ["SubmitBloodOrder", "QueryOrderFeedback",
                                                                   "QueryNotices"]
    assert [str(f) for e in exchanges for m in (e.request, e.reply) if m for f in m.findings] == []
    assert all("***" in dict(e.request.headers).get("x-token", "***") for e in exchanges)
    assert "hih-blood-center-test-token" not in (tmp_path / "rec" / recording.LINES).read_text(encoding="utf-8")


def test_the_maternal_child_platform_through_the_proxy_records_without_findings(
        tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    with mock_serve("mch-platform", tmp_path) as upstream:
        proxy = proxy_on("mch-platform", upstream.where, record=tmp_path / "rec")
        result = mch_flow(f"{url_of(proxy)}/MchPlatformService?wsdl", tmp_path)
        upstream_saw = [e["operation"] for e in upstream.journal("mch-platform") if e["operation"]]
    proxy.recorder.close()  # type: ignore[union-attr]

    assert result["status"] == "ACCEPTED" and result["audit"] == "QX9001"
    exchanges = recorded(tmp_path / "rec")
    assert [e.transaction for e in exchanges] == upstream_saw and "UploadRecord" in upstream_saw
    assert [str(f) for e in exchanges for m in (e.request, e.reply) if m for f in m.findings] == []
    assert recording.read_meta(tmp_path / "rec").interface == "mch-platform"


@pytest.mark.parametrize(("argv", "said"), [
    (["--interface", "insurance", "--upstream", "10.0.0.5:8080"], "an HTTP interface's upstream is a URL"),
    (["--interface", "lis", "--upstream", "http://10.0.0.5:2575"], "an MLLP interface's upstream is HOST:PORT"),
    (["--interface", "insurance", "--upstream", "http://10.0.0.5", "--upstream-role", "hospital"],
     "only HL7 partners call the hospital"),
    (["--interface", "insurance", "--upstream", "http://10.0.0.5", "--timeout", "0"], "--timeout 0"),
    (["--interface", "nowhere", "--upstream", "http://10.0.0.5"], "no descriptor"),
    (["--interface", "insurance", "--upstream", "http://10.0.0.5", "--port", "lis=1"], "this proxy serves insurance"),
    (["--interface", "insurance", "--upstream", "http://10.0.0.5", "--host", "0.0.0.0"], "HIH_ADMIN_TOKEN"),
])
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], said: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    code = main(["proxy", *argv])

    error = capsys.readouterr().err
    assert code == 2 and said in error and error.count("\n") == 1


def test_a_recording_folder_is_never_overwritten(tmp_path: Path, proxy_on: Callable[..., Proxy]) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / recording.LINES).write_text("{}\n", encoding="utf-8")
    from harness.errors import UsageError

    with pytest.raises(UsageError, match="already holds a recording"):
        proxy_on("insurance", "http://127.0.0.1:9", record=tmp_path / "rec")
