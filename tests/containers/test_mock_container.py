"""The mocks' image run by testcontainers (needs a Docker engine; skipped, with the reason, where none answers): each
partner's fixture starts the image serving that partner alone and a client speaks its protocol over the published
port; the admin API asks for the token, faults can be armed from outside, the blood centre's console asks for the
token too, and Docker's HEALTHCHECK reports the container healthy. The image serving all five answers for each.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
import pytest

from harness.container_fixtures import FIXTURES
from harness.containers import MockContainer
from harness.contract.hl7.mllp_client import MllpSyncClient
from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from mocks.blood_center.service import TEST_HOSPITAL, TEST_TOKEN
from mocks.insurance import TEST_PAASID, TEST_SECRET
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD
from tests.conftest import CONTRACTS, DATA, envelope

pytestmark = pytest.mark.docker

SIGN_IN = "/fsi/api/signInSignOutService/signIn"
SOAP = {"Content-Type": "text/xml; charset=utf-8"}


def sign_in(url: str) -> httpx.Response:
    contract = ContractStore(CONTRACTS).load("insurance")
    body = envelope("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})
    return httpx.post(url + SIGN_IN, content=json.dumps(body).encode(), timeout=10, trust_env=False,
                      headers={**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"})


def notices(url: str) -> httpx.Response:
    body = ("<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:bc=\"urn:hih:blood-center:service\">"
            f"<soap-env:Header><bc:AuthHeader><bc:HospitalCode>{TEST_HOSPITAL}</bc:HospitalCode><bc:Token>{TEST_TOKEN}</bc:Token>"
            "</bc:AuthHeader></soap-env:Header><soap-env:Body><bc:QueryNotices><bc:since>2020-01-01T00:00:00</bc:since>"
            "</bc:QueryNotices></soap-env:Body></soap-env:Envelope>")
    return httpx.post(url + "/BloodCenterService", content=body.encode(), timeout=10, trust_env=False,
                      headers={**SOAP, "SOAPAction": '"urn:hih:blood-center:QueryNotices"'})


def login(url: str) -> httpx.Response:
    body = ("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:s=\"urn:hih:mch:service\"><soap:Body>"
            f"<s:Login><s:orgCode>{TEST_ORG_CODE}</s:orgCode><s:password>{TEST_PASSWORD}</s:password></s:Login>"
            "</soap:Body></soap:Envelope>")
    return httpx.post(url + "/MchPlatformService", content=body.encode(), timeout=10, trust_env=False,
                      headers={**SOAP, "SOAPAction": '"urn:hih:mch:Login"'})


def order(interface: str) -> str:
    """A lab order (OML^O21) for the LIS, an imaging order (OMI^O23) for the PACS, both valid against the contract."""
    now = f"{datetime.now():%Y%m%d%H%M%S}"
    if interface == "lis":
        return "\r".join([f"MSH|^~\\&|HIS|HOSP|LIS|LAB|{now}||OML^O21^OML_O21|HIS{now}|P|2.5.1|||||CHN|UNICODE UTF-8",
                          "PID|1||0001234567^^^HOSP^MR||张三||19900307|M", "PV1|1|O|NEI^101^3||||||||||||||||V0001",
                          f"ORC|NW|P{now}|||||||{now}|||D001^李医生", f"OBR|1|P{now}||CBC^血常规^L||||||||||||D001^李医生",
                          f"SPM|1|S{now}||BLD^全血^HL70487|||||||||||||{now}"]) + "\r"
    return (DATA / "hl7" / "pacs-omi-o23.hl7").read_text(encoding="utf-8").replace("HIS2501", f"HIS{now}")


def test_the_insurance_mock_answers_from_its_container(hih_insurance_container: MockContainer) -> None:
    reply = sign_in(hih_insurance_container.url("insurance"))

    assert reply.status_code == 200
    assert reply.json()["infcode"] == 0 and reply.json()["output"]["signinoutb"]["sign_no"]


def test_the_admin_api_asks_for_the_token_and_shows_the_journal(hih_insurance_container: MockContainer) -> None:
    assert httpx.get(hih_insurance_container.admin_url, timeout=5, trust_env=False).status_code == 401
    sign_in(hih_insurance_container.url("insurance"))

    journal = httpx.get(hih_insurance_container.admin_url + "insurance/journal", headers=hih_insurance_container.admin_headers,
                        params={"operation": "9001"}, timeout=5, trust_env=False)

    assert journal.status_code == 200 and journal.json()["entries"]


def test_a_fault_armed_from_outside_reaches_the_connector(hih_insurance_container: MockContainer) -> None:
    faults = hih_insurance_container.admin_url + "insurance/faults"
    armed = httpx.post(faults, json={"kind": "http_status", "status": 503, "operation": "9001", "times": 1},
                       headers=hih_insurance_container.admin_headers, timeout=5, trust_env=False)
    assert armed.status_code == 201

    assert sign_in(hih_insurance_container.url("insurance")).status_code == 503
    assert sign_in(hih_insurance_container.url("insurance")).status_code == 200


def test_the_blood_centre_answers_and_its_console_asks_for_the_token(hih_blood_center_container: MockContainer) -> None:
    url = hih_blood_center_container.url("blood-center")
    assert "<ns0:ResultCode>0</ns0:ResultCode>" in notices(url).text
    assert httpx.get(url + "/console/", timeout=5, trust_env=False).status_code == 401
    console = httpx.get(url + "/console/", headers=hih_blood_center_container.admin_headers, timeout=5, trust_env=False)
    assert console.status_code == 200 and "血液中心" in console.text
    people = httpx.get(hih_blood_center_container.admin_url + "blood-center/population",
                       headers=hih_blood_center_container.admin_headers, timeout=5, trust_env=False)
    assert len(people.json()["bags"]) == 238


def test_the_maternal_child_platform_logs_in(hih_mch_platform_container: MockContainer) -> None:
    reply = login(hih_mch_platform_container.url("mch-platform"))
    assert reply.status_code == 200 and "sessionKey" in reply.text


@pytest.mark.parametrize("name", ["lis", "pacs"])
def test_the_hl7_partners_take_an_order_over_mllp(name: str, request: pytest.FixtureRequest) -> None:
    container: MockContainer = request.getfixturevalue(FIXTURES[name])
    host, port = container.address(name)
    with MllpSyncClient(host, port, timeout=10) as client:
        ack = client.send(order(name))
    assert ack.message is not None and ack.message.get("MSA-1") == "AA"


def test_docker_reports_the_container_healthy(hih_insurance_container: MockContainer) -> None:
    deadline = time.monotonic() + 60
    while hih_insurance_container.health() != "healthy" and time.monotonic() < deadline:
        time.sleep(1)
    assert hih_insurance_container.health() == "healthy", hih_insurance_container.logs()


def test_the_default_image_serves_all_five(mock_container: MockContainer) -> None:
    assert sign_in(mock_container.url("insurance")).json()["infcode"] == 0
    assert "<ns0:ResultCode>0</ns0:ResultCode>" in notices(mock_container.url("blood-center")).text
    assert login(mock_container.url("mch-platform")).status_code == 200
    for name in ("lis", "pacs"):
        host, port = mock_container.address(name)
        assert port > 0 and host
