"""Hostile XML sent to the SOAP mock over a socket: refused fast with a Client fault, nothing read, nothing fetched,
no memory spike. The same checks apply to records carried as string payloads."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from tests.mocks.soap.conftest import ExampleServer
from tests.mocks.soap.example import HOSPITAL, TOKEN

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
HEADER = (f'<s:Header><ex:AuthHeader><ex:HospitalCode>{HOSPITAL}</ex:HospitalCode><ex:Token>{TOKEN}</ex:Token>'
          "</ex:AuthHeader></s:Header>")
SECRET = Path(__file__).resolve().parents[3] / "pyproject.toml"


def envelope(body: str, prolog: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<s:Envelope xmlns:s="{SOAP11}" xmlns:ex="urn:hih:example:service">'
            f"{HEADER}<s:Body>{body}</s:Body></s:Envelope>").encode()


def billion_laughs(levels: int = 10) -> str:
    entities = '<!ENTITY lol0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels))
    return f"<!DOCTYPE s:Envelope [{entities}]>"


def post(server: ExampleServer, body: bytes, timeout: float = 10) -> httpx.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:hih:example:UploadRecord"'}
    return httpx.post(server.url, content=body, headers=headers, timeout=timeout)


def fault_of(response: httpx.Response) -> tuple[str, str]:
    fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    assert fault is not None, response.text[:300]
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


@pytest.fixture
def spy() -> Iterator[list[bytes]]:
    """A loopback listener that records every connection: an external DTD or entity must never be fetched."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                try:
                    seen.append(conn.recv(1024))
                except OSError:
                    seen.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    seen.append(str(listener.getsockname()[1]).encode())  # item 0: the port, for the test to aim at
    yield seen
    stop.set()
    thread.join(2)
    listener.close()


def hostile(port: str) -> dict[str, bytes]:
    upload = "<ex:UploadRecord><ex:payload>x</ex:payload></ex:UploadRecord>"
    return {
        "xxe-file": envelope(upload.replace(">x<", ">&xxe;<"), f'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file://{SECRET}">]>'),
        "xxe-http": envelope(upload.replace(">x<", ">&xxe;<"), f'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "http://127.0.0.1:{port}/x">]>'),
        "external-dtd": envelope(upload, f'<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:{port}/evil.dtd">'),
        "parameter-entity": envelope(upload, f'<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>'),
        "billion-laughs": envelope(upload.replace(">x<", ">&lol9;<"), billion_laughs()),
        "undeclared-entity": envelope(upload.replace(">x<", ">&passwd;<")),
        "deep-nesting": envelope("<ex:UploadRecord>" + "<a>" * 5000 + "</a>" * 5000 + "</ex:UploadRecord>"),
    }


@pytest.mark.parametrize("name", ["xxe-file", "xxe-http", "external-dtd", "parameter-entity", "billion-laughs",
                                  "undeclared-entity", "deep-nesting"])
def test_hostile_envelopes_are_refused_fast(server: ExampleServer, spy: list[bytes], name: str) -> None:
    raw = hostile(spy[0].decode())[name]
    started = time.perf_counter()
    response = post(server, raw)
    elapsed = time.perf_counter() - started
    code, message = fault_of(response)
    assert response.status_code == 500 and code == "soap-env:Client" and message.startswith("request refused: ")
    assert elapsed < 0.5, f"{name} took {elapsed:.3f} s"
    assert b"[project]" not in response.content, "the file was not read"
    exchange = server.last()
    assert exchange.request_findings[0].rule.startswith("xml-") and exchange.request is None
    assert server.behaviour.records == []
    time.sleep(0.05)
    assert spy[1:] == [], "nothing was fetched"


def test_an_envelope_over_the_contracts_limit_is_refused_without_parsing(server: ExampleServer) -> None:
    raw = envelope("<ex:UploadRecord><ex:payload>" + "A" * 3_000_000 + "</ex:payload></ex:UploadRecord>")
    started = time.perf_counter()
    response = post(server, raw)
    assert time.perf_counter() - started < 1.0
    code, message = fault_of(response)
    assert code == "soap-env:Client" and "over the limit of 262144 bytes" in message


def test_a_body_over_the_http_limit_is_refused_before_it_is_all_read(server: ExampleServer) -> None:
    try:
        response = post(server, b"<" * (20 * 2**20))
    except httpx.TransportError:
        return  # the mock answered 413 and closed while the client was still writing: also a refusal
    assert response.status_code == 413


def test_hostile_payload_records_are_findings_not_reads(server: ExampleServer) -> None:
    record = f'<!DOCTYPE BirthNotice [<!ENTITY xxe SYSTEM "file://{SECRET}">]><BirthNotice xmlns="urn:hih:example:records">&xxe;</BirthNotice>'
    laughs = billion_laughs().replace("s:Envelope", "BirthNotice") + '<BirthNotice xmlns="urn:hih:example:records">&lol9;</BirthNotice>'
    body = "".join(f"<ex:payload><![CDATA[{p}]]></ex:payload>" for p in (record, laughs))
    response = post(server, envelope(f"<ex:UploadRecord>{body}</ex:UploadRecord>"))
    assert response.status_code == 200 and b"[project]" not in response.content, response.text[:600]
    root = etree.fromstring(response.content)
    assert root.findtext(".//{urn:hih:example:service}ResultCode") == "1001"
    assert [f.rule for f in server.last("UploadRecord").request_findings] == ["xml-doctype", "xml-doctype"]


def rss_peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the peak RSS")
def test_a_flood_of_hostile_documents_causes_no_memory_spike(server: ExampleServer, spy: list[bytes]) -> None:
    documents = list(hostile(spy[0].decode()).values())
    big = envelope("<ex:UploadRecord><ex:payload>" + "A" * 4_000_000 + "</ex:payload></ex:UploadRecord>")
    with httpx.Client(timeout=10) as http:  # warm up connections and code paths before measuring
        http.post(server.url, content=documents[0], headers={"Content-Type": "text/xml"})
        before_peak = rss_peak_kib()
        tracemalloc.start()
        try:
            started = time.perf_counter()
            for _ in range(10):
                for raw in [*documents, big]:
                    response = http.post(server.url, content=raw, headers={"Content-Type": "text/xml"})
                    assert response.status_code == (413 if raw is big else 500)
            elapsed = time.perf_counter() - started
            _, traced_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    grown_mib = (rss_peak_kib() - before_peak) / 1024
    assert elapsed < 10, f"{10 * (len(documents) + 1)} hostile requests took {elapsed:.1f} s"
    assert traced_peak < 48 * 2**20, f"Python allocations peaked at {traced_peak / 2**20:.1f} MiB"
    assert grown_mib < 64, f"peak RSS grew by {grown_mib:.1f} MiB"
