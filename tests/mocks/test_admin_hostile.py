"""The admin API under hostile input, over a socket: requests by another host name (DNS rebinding) or from another
site are refused, bodies are bounded, JSON depth is bounded, wrong values are a 400, never a traceback; and in
`hih mock serve` the allowed host names are the loopback names, the bound host and `--allow-host` ones."""

from __future__ import annotations

import threading

import httpx
import pytest

from mocks.insurance import InsuranceMock
from mocks.serve import ServeOptions, serve
from tests.conftest import wait_for


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80", "127.0.0.2", "localhost.attacker.example"])
def test_dns_rebinding_is_refused(admin: httpx.Client, mock: InsuranceMock, host: str) -> None:
    assert admin.get("/insurance/journal", headers={"Host": host}).status_code == 400
    assert admin.post("/insurance/faults", json={"kind": "reset"}, headers={"Host": host}).status_code == 400
    assert mock.faults.armed() == []


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:1"])
def test_a_cross_site_request_is_refused(admin: httpx.Client, mock: InsuranceMock, origin: str) -> None:
    armed = admin.post("/insurance/faults", content=b'{"kind": "reset"}', headers={"Origin": origin, "Content-Type": "text/plain"})
    assert armed.status_code == 403 and mock.faults.armed() == []


@pytest.mark.parametrize(("body", "words"), [
    (b"[" * 60_000, "nested 60000 levels deep"),
    (b'{"kind": "latency", "delay_s": NaN}', "NaN is not a JSON number"),
    (b'{"kind": ["reset"]}', "bad fault"),
    (b'{"kind": "latency", "delay_s": "soon"}', "bad fault"),
    (b'{"kind": "latency", "times": 1e400}', "times inf is not a whole number"),
    (b'{"kind": "latency", "delay_s": 1e400}', "delay_s must be between 0 and 3600"),
    (b'{"kind": "latency", "times": true}', "times True is not a whole number"),
    (b"\xff", "not UTF-8"),
])
def test_bad_fault_bodies_are_a_400(admin: httpx.Client, mock: InsuranceMock, body: bytes, words: str) -> None:
    refused = admin.post("/insurance/faults", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and words in refused.text and "Traceback" not in refused.text
    assert mock.faults.armed() == []


def test_an_oversized_body_is_a_413(admin: httpx.Client, mock: InsuranceMock) -> None:
    refused = admin.post("/insurance/faults", content=b'{"kind": "reset", "message": "' + b"x" * 70_000 + b'"}')
    assert refused.status_code == 413 and mock.faults.armed() == []


@pytest.mark.parametrize("query", ["limit=0", "limit=-5", "limit=" + "9" * 5000, "since=abc", "limit=100000"])
def test_bad_journal_queries_are_a_400(admin: httpx.Client, query: str) -> None:
    assert admin.get(f"/insurance/journal?{query}").status_code == 400


def test_serve_answers_to_its_names_and_the_allowed_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    lines: list[str] = []
    stop = threading.Event()
    worker = threading.Thread(target=serve, args=(ServeOptions(interfaces=["blood-center"], allowed_hosts=["training.local"]),
                                                  lines.append, stop))
    worker.start()
    try:
        wait_for(lambda: lines and lines[-1].startswith("ready"), timeout=30)
        urls = {line.split("\t")[0]: line.split("\t")[1] for line in lines if "\t" in line}
        admin, console = urls["admin"], urls["blood-center console"]
        for url in (admin, console):
            assert httpx.get(url, timeout=5).status_code == 200
            assert httpx.get(url, headers={"Host": "training.local"}, timeout=5).status_code == 200
            assert httpx.get(url, headers={"Host": "attacker.example"}, timeout=5).status_code == 400
    finally:
        stop.set()
        worker.join(timeout=20)
    assert not worker.is_alive()
