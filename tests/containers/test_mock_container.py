"""The mocks' image run by testcontainers (needs a Docker engine; skipped, with the reason, where none answers):
the insurance mock answers over the published port, the admin API asks for the token, faults can be armed from
outside, and Docker's HEALTHCHECK reports the container healthy.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from harness.containers import MockContainer
from harness.contract.loader import ContractStore
from harness.contract.signing import tif_headers
from mocks.insurance import TEST_PAASID, TEST_SECRET
from tests.conftest import CONTRACTS, envelope

pytestmark = pytest.mark.docker

SIGN_IN = "/fsi/api/signInSignOutService/signIn"


def sign_in(url: str) -> httpx.Response:
    contract = ContractStore(CONTRACTS).load("insurance")
    body = envelope("9001", {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}})
    return httpx.post(url + SIGN_IN, content=json.dumps(body).encode(), timeout=10, trust_env=False,
                      headers={**tif_headers(contract.signing, TEST_PAASID, TEST_SECRET), "Content-Type": "application/json"})


def test_the_insurance_mock_answers_from_the_container(mock_container: MockContainer) -> None:
    reply = sign_in(mock_container.url("insurance"))

    assert reply.status_code == 200
    assert reply.json()["infcode"] == 0 and reply.json()["output"]["signinoutb"]["sign_no"]


def test_the_admin_api_asks_for_the_token_and_shows_the_journal(mock_container: MockContainer) -> None:
    assert httpx.get(mock_container.admin_url, timeout=5, trust_env=False).status_code == 401
    sign_in(mock_container.url("insurance"))

    journal = httpx.get(mock_container.admin_url + "insurance/journal", headers=mock_container.admin_headers,
                        params={"operation": "9001"}, timeout=5, trust_env=False)

    assert journal.status_code == 200 and journal.json()["entries"]


def test_a_fault_armed_from_outside_reaches_the_connector(mock_container: MockContainer) -> None:
    faults = mock_container.admin_url + "insurance/faults"
    armed = httpx.post(faults, json={"kind": "http_status", "status": 503, "operation": "9001", "times": 1},
                       headers=mock_container.admin_headers, timeout=5, trust_env=False)
    assert armed.status_code == 201

    assert sign_in(mock_container.url("insurance")).status_code == 503
    assert sign_in(mock_container.url("insurance")).status_code == 200


def test_docker_reports_the_container_healthy(mock_container: MockContainer) -> None:
    deadline = time.monotonic() + 60
    while mock_container.health() != "healthy" and time.monotonic() < deadline:
        time.sleep(1)
    assert mock_container.health() == "healthy", mock_container.logs()
