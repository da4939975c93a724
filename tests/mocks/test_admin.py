"""The admin HTTP API of `hih mock serve`, over a socket: journal, faults, reset, and the token."""

from __future__ import annotations

import httpx
import pytest

from mocks.insurance import InsuranceMock
from mocks.transport.admin import admin_app
from mocks.transport.runtime import Runtime
from tests.conftest import Wire

SIGN_IN = {"signIn": {"opter_no": "100234", "ip": "10.0.0.10"}}


def test_index_describes_the_mocks(admin: httpx.Client, mock: InsuranceMock) -> None:
    document = admin.get("/").json()
    (described,) = document["mocks"]
    assert described["interface"] == "insurance" and described["contract"] == "2024.1"
    assert described["endpoint"] == mock.endpoint.url  # type: ignore[union-attr]
    assert "no_reply" in document["fault_kinds"]


def test_journal_lists_filters_and_clears(admin: httpx.Client, wire: Wire) -> None:
    wire.sign_in()
    wire.call("1101", {"data": {"mdtrt_cert_type": "02"}})

    everything = admin.get("/insurance/journal").json()
    assert everything["total"] == 2 and everything["dropped"] == 0
    assert [e["operation"] for e in everything["entries"]] == ["9001", "1101"]
    bad = everything["entries"][1]
    assert bad["request_findings"][0]["location"] == "/input/data/mdtrt_cert_no"
    assert bad["response"]["infcode"] == -1 and "text" in bad["request_raw"]

    assert [e["operation"] for e in admin.get("/insurance/journal", params={"operation": "9001"}).json()["entries"]] == ["9001"]
    assert [e["operation"] for e in admin.get("/insurance/journal", params={"limit": 1}).json()["entries"]] == ["1101"]
    first_id = everything["entries"][0]["id"]
    assert [e["id"] for e in admin.get("/insurance/journal", params={"since": first_id}).json()["entries"]] == [first_id + 1]
    refused = admin.get("/insurance/journal", params={"limit": "many"})
    assert refused.status_code == 400 and refused.json() == {"error": "limit and since are whole numbers"}

    assert admin.delete("/insurance/journal").status_code == 204
    assert admin.get("/insurance/journal").json()["entries"] == []


def test_faults_are_armed_listed_fired_and_cleared(admin: httpx.Client, wire: Wire) -> None:
    created = admin.post("/insurance/faults", json={"kind": "http_status", "operation": "9001", "status": 502})
    assert created.status_code == 201
    assert created.json()["kind"] == "http_status" and created.json()["status"] == 502 and created.json()["times"] == 1
    assert [f["kind"] for f in admin.get("/insurance/faults").json()["armed"]] == ["http_status"]

    assert wire.post("9001", SIGN_IN).status_code == 502

    listed = admin.get("/insurance/faults").json()
    assert listed["armed"] == [] and [f["status"] for f in listed["fired"]] == [502]

    admin.post("/insurance/faults", json={"kind": "reset", "times": None})
    assert admin.delete("/insurance/faults").status_code == 204
    assert admin.get("/insurance/faults").json() == {"armed": [], "fired": []}
    assert wire.post("9001", SIGN_IN).status_code == 200


@pytest.mark.parametrize(("body", "error"), [
    (b'{"kind": "meteor"}', "unknown fault kind 'meteor'"),
    (b'{"kind": "latency", "delay_s": -5}', "fault delay_s must be between 0 and 3600"),
    (b'{"kind": "reset", "color": "red"}', "unknown fault field(s): color"),
    (b'["reset"]', "a fault is a JSON object"),
    (b'{"kind": ', "invalid JSON"),
])
def test_bad_faults_are_refused_with_a_message(admin: httpx.Client, mock: InsuranceMock, body: bytes, error: str) -> None:
    response = admin.post("/insurance/faults", content=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert mock.faults.armed() == []


def test_reset_restores_the_seeded_state(admin: httpx.Client, wire: Wire, mock: InsuranceMock) -> None:
    wire.sign_in()
    mock.inject("latency")
    assert admin.post("/insurance/reset").status_code == 204
    assert len(mock.journal) == 0 and mock.faults.armed() == [] and mock.store.count("sessions") == 0


def test_unknown_mock_and_method(admin: httpx.Client) -> None:
    missing = admin.get("/blood-center/journal")
    assert missing.status_code == 404 and missing.json() == {"error": "no mock 'blood-center' here", "mocks": ["insurance"]}
    assert admin.get("/insurance/reset").status_code == 405


def test_token_is_required_when_configured(runtime: Runtime, mock: InsuranceMock) -> None:
    listener = runtime.serve_http(admin_app({"insurance": mock}, token="s3cret-token"), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{listener.port}/__hih", timeout=5) as client:
            for method, path in (("GET", "/"), ("GET", "/insurance/journal"), ("POST", "/insurance/faults"),
                                 ("DELETE", "/insurance/faults"), ("POST", "/insurance/reset"),
                                 ("GET", "/insurance/population")):
                response = client.request(method, path, json={"kind": "reset"})
                assert response.status_code == 401, (method, path)
                assert response.json() == {"error": "missing or wrong token"}
            wrong = client.get("/", headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 401
            right = client.get("/insurance/journal", headers={"Authorization": "Bearer s3cret-token"})
            assert right.status_code == 200
            people = client.get("/insurance/population", headers={"Authorization": "Bearer s3cret-token"})
            assert people.status_code == 200 and len(people.json()["people"]) == 200
        assert mock.faults.armed() == [], "refused calls changed nothing"
    finally:
        runtime.call(listener.stop())
