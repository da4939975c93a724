"""Hostile XML sent to the blood-centre mock over a socket: XXE, entity expansion and huge documents are refused
fast with a Client fault, nothing is read or fetched, and memory does not spike."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import httpx
import pytest

from mocks.blood_center import BloodCenterMock

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SECRET = Path(__file__).resolve().parents[3] / "pyproject.toml"


def envelope(centre: BloodCenterMock, body: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<s:Envelope xmlns:s="{SOAP11}" xmlns:tns="urn:hih:blood-center:service">'
            f"<s:Header><tns:AuthHeader><tns:HospitalCode>{centre.hospital}</tns:HospitalCode><tns:Token>{centre.token}"
            f"</tns:Token></tns:AuthHeader></s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()


def post(centre: BloodCenterMock, raw: bytes) -> httpx.Response:
    return httpx.post(centre.service_url, content=raw, timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:blood-center:QueryOrderFeedback"'})


def laughs(levels: int = 10) -> str:
    entities = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels))
    return f"<!DOCTYPE s:Envelope [{entities}]>"


FEEDBACK = "<tns:QueryOrderFeedback><tns:orderNo>&e;</tns:orderNo></tns:QueryOrderFeedback>"


@pytest.mark.parametrize(("name", "body", "prolog"), [
    ("xxe-file", FEEDBACK, f'<!DOCTYPE s:Envelope [<!ENTITY e SYSTEM "file://{SECRET}">]>'),
    ("xxe-network", FEEDBACK, '<!DOCTYPE s:Envelope [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>'),
    ("billion-laughs", FEEDBACK.replace("&e;", "&lol9;"), laughs()),
    ("undeclared-entity", FEEDBACK, ""),
])
def test_hostile_envelopes_are_refused_fast_without_memory_spike(centre: BloodCenterMock, name: str, body: str, prolog: str) -> None:
    tracemalloc.start()
    # CPU of this process (the mock serves from its threads) beside the wall time: an expansion or a fetch costs
    # seconds of CPU whatever the machine's load, while the wall time of a refusal stretches with the other tests'
    started, cpu = time.perf_counter(), time.process_time()
    response = post(centre, envelope(centre, body, prolog))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 500 and b"faultcode>soap-env:Client<" in response.content, response.text[:300]
    assert b"request refused" in response.content and b"[project]" not in response.content
    assert cpu < 1.0, f"{name} took {cpu:.3f} s of CPU"
    assert elapsed < 5.0, f"{name} took {elapsed:.3f} s"
    assert peak < 20 * 2**20, f"{name}: {peak / 2**20:.1f} MiB traced while refusing it"
    assert centre.centre.store.count("orders") == 0


def test_a_huge_document_is_refused_by_size_before_parsing(centre: BloodCenterMock) -> None:
    body = "<tns:QueryOrderFeedback><tns:orderNo>" + "A" * 3_000_000 + "</tns:orderNo></tns:QueryOrderFeedback>"
    started = time.perf_counter()
    response = post(centre, envelope(centre, body))
    assert time.perf_counter() - started < 2.0
    assert response.status_code == 413 and b"faultcode>soap-env:Client<" in response.content, response.text[:300]
    assert b"over the limit of 1048576 bytes" in response.content and response.headers["connection"] == "close"
    refused = centre.journal.last()
    assert refused is not None and [f.rule for f in refused.request_findings] == ["body-size"]
