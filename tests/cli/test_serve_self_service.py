"""What a tester without Python learns from `hih mock serve` alone: on start each mock's endpoints and the credentials
it accepts (a secret taken from the environment named, never printed), and where its population is; then the
population itself over the admin API, for every partner, as a plain HTTP client reads it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.contract.identifiers import resident_id_problem
from harness.contract.isbt128 import din_problem
from harness.contract.loader import ContractStore
from mocks.serve import ServeOptions, serve
from tests.cli.test_mock_serve import serve_once
from tests.conftest import CONTRACTS

PARTNERS = ("insurance", "mch-platform", "blood-center", "lis", "pacs")


def announced(lines: list[str]) -> dict[str, str]:
    return {line.split("\t")[0]: line.split("\t")[1] for line in lines if "\t" in line}


def test_each_mock_announces_the_credentials_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HIH_ADMIN_TOKEN", "HIH_INSURANCE_PAASID", "HIH_INSURANCE_SECRET", "HIH_BLOOD_CENTER_HOSPITAL",
                 "HIH_BLOOD_CENTER_TOKEN", "HIH_MCH_ORG_CODE", "HIH_MCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    lines = announced(serve_once(ServeOptions()))

    assert lines["insurance accepts"] == "paasid HIH_TEST_PAAS · secret hih-test-secret-not-for-production · mdtrtarea_admvs 330100"
    assert lines["insurance api"].endswith("/fsi/api/<service>/<method> (one path per infno)")
    assert lines["insurance api"].startswith(lines["insurance"] + "/fsi/api/rsfComIfsService/callService (every infno)")
    assert lines["blood-center accepts"].startswith("HospitalCode H32010200001 · Token hih-blood-center-test-token · ")
    assert lines["mch-platform accepts"].startswith("orgCode 410105000012 · password hih-test-mch-password · ")
    assert lines["lis accepts"].startswith("login none") and "messages ADT^A01, ADT^A04, ADT^A08, OML^O21" in lines["lis accepts"]
    assert "versions 2.4, 2.5.1" in lines["pacs accepts"] and "GB 18030" in lines["pacs accepts"]
    admin = lines["admin"]
    assert [lines[f"{name} population"] for name in PARTNERS] == [f"{admin}{name}/population" for name in PARTNERS]


def test_a_secret_from_the_environment_is_named_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("HIH_INSURANCE_PAASID", "H330106_PAAS")
    monkeypatch.setenv("HIH_INSURANCE_SECRET", "a-real-secret-of-the-province")
    monkeypatch.setenv("HIH_BLOOD_CENTER_TOKEN", "a-real-blood-centre-token")
    monkeypatch.setenv("HIH_MCH_PASSWORD", "a-real-mch-password")

    printed = serve_once(ServeOptions(interfaces=["insurance", "blood-center", "mch-platform"]))
    lines = announced(printed)

    assert lines["insurance accepts"].startswith("paasid H330106_PAAS · secret (set by HIH_INSURANCE_SECRET, not shown)")
    assert "Token (set by HIH_BLOOD_CENTER_TOKEN, not shown)" in lines["blood-center accepts"]
    assert "password (set by HIH_MCH_PASSWORD, not shown)" in lines["mch-platform accepts"]
    assert not any(secret in line for line in printed for secret in ("a-real-secret", "a-real-blood", "a-real-mch"))


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    """`hih mock serve` (every mock) on a thread; its announced endpoints."""
    lines: list[str] = []
    stop = threading.Event()
    ready = threading.Event()

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("ready"):
            ready.set()

    worker = threading.Thread(target=serve, args=(ServeOptions(), say, stop), daemon=True)
    worker.start()
    assert ready.wait(30), lines
    yield announced(lines)
    stop.set()
    worker.join(15)


def population(served: dict[str, str], name: str) -> Any:
    reply = httpx.get(served[f"{name} population"], timeout=10, trust_env=False)
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    return reply.json()


def test_the_insurance_population_has_the_people_their_cards_and_the_catalogue(served: dict[str, str]) -> None:
    data = population(served, "insurance")
    people = data["people"]
    assert len(people) == 200 and [p["role"] for p in people[:4]] == ["employee", "resident", "suspended", "low-balance"]
    assert all(resident_id_problem(p["certno"]) is None for p in people)
    assert all(p["card_no"] and p["card_sn"] and p["ec_token"] and p["balc"] for p in people)
    codes = {item["med_list_codg"] for item in data["catalogue"]}
    assert "001102000010000" in codes and data["visits"] == []
    assert data["contract"] == ContractStore(CONTRACTS).load("insurance").version, "the newest, served by default"


def test_the_blood_centre_population_has_its_bags_orders_and_samples(served: dict[str, str]) -> None:
    data = population(served, "blood-center")
    bags = data["bags"]
    assert len(bags) == 238 and all(din_problem(b["din"]) is None for b in bags)
    in_stock = [b for b in bags if b["inStock"]]
    assert in_stock and all(b["state"] == "AVAILABLE" for b in in_stock)
    assert {b["state"] for b in bags} == {"AVAILABLE", "EXPIRED"}
    assert next(b for b in bags if b["productCode"] == "E0005")["productName"] == "单采血小板"
    assert [s["sampleNo"] for s in data["crossmatch"]] == ["PX0000000001", "PX0000000002"]
    assert len(data["notices"]) == 2 and data["orders"] == [] and data["hospitals"] == ["H32010200001"]


def test_the_mch_platform_population_has_its_record_types(served: dict[str, str]) -> None:
    data = population(served, "mch-platform")
    assert len(data["record_types"]) == 12 and data["organisations"] == ["410105000012"]
    assert {"recordType": "DELIVERY"}.items() <= next(t for t in data["record_types"] if t["recordType"] == "DELIVERY").items()
    assert data["records"] == []


def test_the_lis_and_pacs_populations_say_what_they_answer_for(served: dict[str, str]) -> None:
    lis = population(served, "lis")
    assert set(lis["tests"]) == {"CBC", "K", "GLU"} and lis["tests"]["K"][0]["unit"] == "mmol/L"
    assert lis["application"] == {"MSH-3": "LIS", "MSH-4": "LAB"} and lis["orders"] == [] and lis["patients"] == []
    pacs = population(served, "pacs")
    assert pacs["report"]["impression"] and pacs["study_uid_root"].startswith("1.2.156.")


def test_an_unknown_partner_is_a_404_naming_those_served(served: dict[str, str]) -> None:
    reply = httpx.get(served["admin"] + "radiology/population", timeout=5, trust_env=False)
    assert reply.status_code == 404 and reply.json()["mocks"] == sorted(PARTNERS)
