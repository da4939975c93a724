"""`hih mock serve --workers 2` for the SOAP partners: the blood centre and the maternal-child platform served by two
processes on one port share what they hold. Every call goes over a new connection, so the kernel spreads them over
both workers (the merged journal says which answered); a call answered by one is seen by the next on either.

The blood centre's tests share one two-worker centre (a module fixture, the module one xdist group): each asks the
journal only about the calls that name its own order, so they hold in any order, and the centre's two serving
processes start once instead of once per test."""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import httpx
import pytest

from mocks.blood_center.service import TEST_HOSPITAL, TEST_TOKEN
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD
from mocks.serve import ServeOptions
from mocks.workers_auto import auto_workers
from tests.conftest import CONTRACTS
from tests.mocks.serving import serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("soap_workers")]

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:t="{ns}">{header}<s:Body>{body}</s:Body></s:Envelope>')
BLOOD_NS = "urn:hih:blood-center:service"
BLOOD_AUTH = (f"<s:Header><t:AuthHeader><t:HospitalCode>{TEST_HOSPITAL}</t:HospitalCode><t:Token>{TEST_TOKEN}</t:Token>"
              "</t:AuthHeader></s:Header>")
ORDER = ("<t:SubmitBloodOrder><t:order><t:orderNo>{no}</t:orderNo><t:urgency>URGENT</t:urgency>"
         "<t:wantedAt>2026-12-01T10:00:00</t:wantedAt><t:department>心胸外科</t:department><t:orderedBy>王医生</t:orderedBy>"
         "<t:item><t:lineNo>1</t:lineNo><t:productCode>E0001</t:productCode><t:abo>A</t:abo><t:rhd>POS</t:rhd>"
         "<t:quantity>{quantity}</t:quantity><t:unit>U</t:unit></t:item></t:order></t:SubmitBloodOrder>")
MCH_NS = "urn:hih:mch:service"
CALLS = 16


class Served:
    def __init__(self, fields: dict[str, list[str]], interface: str) -> None:
        self.fields = fields
        self.url = fields[interface][1]
        self.description = fields[interface][2]
        self.admin = fields["admin"][1]

    def workers_that_answered(self, interface: str, operation: str, naming: str = "") -> set[int]:
        """The workers that answered `operation`, of the calls whose request holds `naming` (every call by default)."""
        journal = httpx.get(f"{self.admin}{interface}/journal", params={"operation": operation, "limit": 10_000},
                            timeout=10).json()
        entries = [e for e in journal["entries"] if naming in ((e["request_raw"] or {}).get("text") or "")]
        assert entries, f"the journal holds no {operation} naming {naming!r}"
        return {int(e["worker"]) for e in entries}


def _serve(options: ServeOptions, interface: str) -> Iterator[Served]:
    with serving(options) as fields:
        yield Served(fields, interface)


@pytest.fixture(scope="module")
def centre() -> Iterator[Served]:
    yield from _serve(ServeOptions(interfaces=["blood-center"], workers=2, contracts_dir=CONTRACTS), "blood-center")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(ServeOptions(interfaces=["mch-platform"], workers=2, contracts_dir=CONTRACTS), "mch-platform")


def soap(url: str, action: str, envelope: str) -> str:
    with httpx.Client(timeout=10) as client:  # a new connection for every call
        reply = client.post(url, content=envelope.encode(), headers={"Content-Type": "text/xml; charset=utf-8",
                                                                        "SOAPAction": f'"{action}"'})
    assert reply.status_code == 200, reply.text[:500]
    return reply.text


def blood(served: Served, operation: str, body: str) -> str:
    return soap(served.url + "/BloodCenterService", f"urn:hih:blood-center:{operation}",
                ENVELOPE.format(ns=BLOOD_NS, header=BLOOD_AUTH, body=body))


def code(reply: str) -> str:
    return reply.split("<ns0:ResultCode>")[1].split("<")[0]


def test_an_order_taken_by_one_worker_is_known_to_both(centre: Served) -> None:
    assert centre.description == "(contract 2025.1, 2 workers)"
    assert "blood-center console" in centre.fields, centre.fields
    assert code(blood(centre, "SubmitBloodOrder", ORDER.format(no="MW0001", quantity=2))) == "0"
    for _ in range(CALLS):
        feedback = blood(centre, "QueryOrderFeedback", "<t:QueryOrderFeedback><t:orderNo>MW0001</t:orderNo></t:QueryOrderFeedback>")
        assert code(feedback) == "0" and "RECEIVED" in feedback, feedback[:500]
        # the same number with other content is refused by whichever worker answers
        assert code(blood(centre, "SubmitBloodOrder", ORDER.format(no="MW0001", quantity=3))) == "2001"
    assert centre.workers_that_answered("blood-center", "QueryOrderFeedback", "MW0001") == {1, 2}
    assert centre.workers_that_answered("blood-center", "SubmitBloodOrder", "MW0001") == {1, 2}


def test_units_issued_through_the_console_are_downloaded_from_either_worker(centre: Served) -> None:
    assert code(blood(centre, "SubmitBloodOrder", ORDER.format(no="MW0002", quantity=2))) == "0"
    key = quote(f"{TEST_HOSPITAL}/MW0002", safe="")
    for action in ("accept", "issue"):  # console actions, each on a new connection and so on either worker
        with httpx.Client(timeout=10) as client:
            page = client.post(f"{centre.url}/console/orders/{key}/{action}", follow_redirects=True)
        assert page.status_code == 200, page.text[:300]
    seen: list[set[str]] = []
    for _ in range(CALLS):
        notes = blood(centre, "DownloadIssuedUnits", "<t:DownloadIssuedUnits><t:orderNo>MW0002</t:orderNo></t:DownloadIssuedUnits>")
        assert code(notes) == "0", notes[:500]
        seen.append({part.split("<")[0] for part in notes.split("<ns0:din>")[1:]})
    assert seen[0], "the issue note lists no unit"
    assert all(found == seen[0] for found in seen)  # every worker answers with the same units
    assert centre.workers_that_answered("blood-center", "DownloadIssuedUnits", "MW0002") == {1, 2}


def test_a_drill_is_refused_with_the_reason_on_the_console() -> None:
    from harness.contract.loader import ContractStore
    from mocks.blood_center import BloodCenterMock
    from mocks.blood_center.centre import CentreError

    mock = BloodCenterMock(ContractStore(CONTRACTS).load("blood-center"))
    mock.workers = 2  # what `share` sets in each of two serving processes
    drill = next(iter(mock.training.drills))
    with pytest.raises(CentreError, match="--workers"):
        mock.training.runs.start(drill, "张三")
    assert mock.training.runs.active() is None


def mch(served: Served, operation: str, body: str, key: str = "") -> str:
    header = (f"<s:Header><t:SessionHeader><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:sessionKey>{key}</t:sessionKey>"
              "</t:SessionHeader></s:Header>") if key else ""
    return soap(served.url + "/MchPlatformService", f"urn:hih:mch:{operation}", ENVELOPE.format(ns=MCH_NS, header=header, body=body))


@functools.cache
def _delivery_record() -> str:
    """A delivery record as the reference connector builds it, numbered NUMBER0001."""
    from connectors.mch_platform import MchPlatformConnector
    from features.steps.mch_samples import sample
    from harness.contract.loader import ContractStore
    from harness.ports.mch_platform import MchSettings

    contract = ContractStore(CONTRACTS).load("mch-platform")
    with tempfile.TemporaryDirectory() as folder:
        connector = MchPlatformConnector(MchSettings("http://127.0.0.1:9/x?wsdl", TEST_ORG_CODE, TEST_PASSWORD,
                                                     f"{folder}/o.sqlite", timeout_s=5, contract_folder=str(contract.folder)))
        try:
            return connector.build(sample("DELIVERY", "NUMBER0001")).decode("utf-8")
        finally:
            connector.close()


def _upload(record_no: str) -> str:
    record = _delivery_record().replace("NUMBER0001", record_no)
    return (f"<t:UploadRecord><t:recordType>DELIVERY</t:recordType><t:payload>{escape(record)}</t:payload>"
            "</t:UploadRecord>")


def test_a_session_records_and_duplicates_are_shared(platform: Served) -> None:
    login = mch(platform, "Login", f"<t:Login><t:orgCode>{TEST_ORG_CODE}</t:orgCode><t:password>{TEST_PASSWORD}"
                                   "</t:password></t:Login>")
    key = login.split("<ns0:sessionKey>")[1].split("<")[0]
    ids = set()
    for n in range(CALLS):  # the session made on one worker is good on both; every record gets a number of its own
        reply = mch(platform, "UploadRecord", _upload(f"MW{n:06d}"), key)
        assert code(reply) == "0", reply[:800]
        ids.update(re.findall(r":recordId[^>]*>([^<]+)<", reply))
    assert len(ids) == CALLS
    for _ in range(CALLS):  # uploaded once: a duplicate on either worker; read back on either
        again = mch(platform, "UploadRecord", _upload("MW000000"), key)
        assert code(again) == "1" and "2001" in again, again[:800]
        result = mch(platform, "QueryUploadResult", "<t:QueryUploadResult><t:recordType>DELIVERY</t:recordType>"
                                                    "<t:recordNo>MW000001</t:recordNo></t:QueryUploadResult>", key)
        assert code(result) == "0" and "MW000001" in result, result[:800]
    assert platform.workers_that_answered("mch-platform", "UploadRecord") == {1, 2}
    assert platform.workers_that_answered("mch-platform", "QueryUploadResult") == {1, 2}


def test_auto_serves_the_soap_mocks_from_two_processes_where_there_are_two_cores() -> None:
    assert auto_workers(["blood-center"], cores=2) == 2
    assert auto_workers(["blood-center", "mch-platform"], cores=4) == 2
    assert auto_workers(["blood-center", "pacs"], cores=2) == 1  # PACS asks for one process
    assert auto_workers(["mch-platform"], cores=1) == 1
    assert auto_workers(["blood-center"], push=True, cores=2) == 1
