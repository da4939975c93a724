"""The SOAP reference connectors' zeep clients on one parsed WSDL per process (`connectors/zeep_documents.py`):
connectors against mocks on different ports share one parse and each sends to its own port; a changed WSDL or XSD,
other zeep settings, a WSDL read over https or from a file are parsed afresh; the cache stays bounded; an
over-large document is refused. Over real loopback sockets: the mocks, and a small server whose documents a test
changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from hypothesis import given
from hypothesis import strategies as st
from zeep.transports import Transport

from connectors import zeep_documents
from connectors.blood_center import BloodCenterConnector
from connectors.mch_platform import MchPlatformConnector
from harness.bindings import connector_settings
from harness.contract.loader import ContractStore
from harness.ports.blood_center import BloodCenterSettings
from harness.ports.blood_center import Unavailable as CentreUnavailable
from harness.ports.mch_platform import MchSettings
from mocks.blood_center import BloodCenterMock
from mocks.mch_platform import TEST_ORG_CODE, TEST_PASSWORD, MchPlatformMock
from mocks.registry import create_mock
from mocks.transport.runtime import Runtime

SETTINGS = {"strict": True, "forbid_dtd": True, "forbid_entities": True}


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """Each test counts its own parses: no Document left by another test (or by the connectors of another)."""
    zeep_documents.clear()
    yield
    zeep_documents.clear()


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    rt = Runtime().start()
    yield rt
    rt.stop()


def _started(runtime: Runtime, interface: str, version: str | None = None) -> Any:
    mock = create_mock(ContractStore().load(interface, version))
    mock.start(runtime)
    return mock


@pytest.fixture(scope="module")
def centres(runtime: Runtime) -> list[BloodCenterMock]:
    """Two blood centres, each on its own random port."""
    made = [_started(runtime, "blood-center") for _ in range(2)]
    assert all(isinstance(m, BloodCenterMock) for m in made)
    return made


def _parses() -> int:
    return zeep_documents.stats().parses


def _centre_settings(centre: BloodCenterMock) -> BloodCenterSettings:
    built: BloodCenterSettings = connector_settings("blood-center")(centre, centre.contract, 2.0)
    return built


def test_two_connectors_on_two_ports_share_one_parse_and_each_sends_to_its_own(centres: list[BloodCenterMock]) -> None:
    ports = {c.endpoint.port for c in centres if c.endpoint is not None}
    assert len(ports) == 2, "two mocks on two ports"
    connectors = [BloodCenterConnector(_centre_settings(c)) for c in centres]
    try:
        assert zeep_documents.stats() == zeep_documents.Stats(parses=1, shared=1)
        assert connectors[0].client.wsdl is connectors[1].client.wsdl, "one Document for both"
        before = [len(c.journal.entries("QueryNotices")) for c in centres]
        since = datetime(2020, 1, 1)
        connectors[1].notices(since)
        connectors[1].notices(since)
        connectors[0].notices(since)
        after = [len(c.journal.entries("QueryNotices")) for c in centres]
        assert [a - b for a, b in zip(after, before, strict=True)] == [1, 2], "each connector's calls reach its own mock"
    finally:
        for connector in connectors:
            connector.close()


def test_each_connector_keeps_its_own_transport_plugins_and_timeouts(centres: list[BloodCenterMock]) -> None:
    slow = BloodCenterConnector(_centre_settings(centres[0]))
    bare = BloodCenterConnector(replace(_centre_settings(centres[1]), contract_folder="", timeout_s=0.7))
    try:
        assert slow.client.wsdl is bare.client.wsdl
        assert slow.client.transport is not bare.client.transport
        assert slow.client.transport.operation_timeout == 2.0 and bare.client.transport.operation_timeout == 0.7
        assert len(slow.client.plugins) == 1 and bare.client.plugins == [], "the contract check is the first one's only"
    finally:
        slow.close()
        bare.close()


@pytest.fixture(scope="module")
def platforms(runtime: Runtime) -> list[MchPlatformMock]:
    """The maternal-child platform at both policy versions: the same service WSDL and XSD, other record XSDs."""
    made = [_started(runtime, "mch-platform", version) for version in ("2024.1", "2025.1")]
    assert all(isinstance(m, MchPlatformMock) for m in made)
    return made


def test_maternal_child_connectors_of_both_versions_share_the_service_parse(platforms: list[MchPlatformMock],
                                                                           tmp_path: Path) -> None:
    made = [MchPlatformConnector(MchSettings(f"{p.service_url}?wsdl", TEST_ORG_CODE, TEST_PASSWORD,
                                             str(tmp_path / f"outbox-{n}.sqlite"), timeout_s=2.0,
                                             contract_folder=str(p.contract.folder)))
            for n, p in enumerate(platforms)]
    try:
        before = [len(p.journal.entries("Login")) for p in platforms]
        for connector in made:
            connector.login()
        assert [len(p.journal.entries("Login")) - b for p, b in zip(platforms, before, strict=True)] == [1, 1]
        assert zeep_documents.stats() == zeep_documents.Stats(parses=1, shared=1)
    finally:
        for connector in made:
            connector.close()


# -- a server whose documents a test changes --------------------------------------------------------------------
WSDL = """<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="urn:test:echo" xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:echo">
  <wsdl:documentation>{note}</wsdl:documentation>
  <wsdl:types>
    <xs:schema targetNamespace="urn:test:echo" elementFormDefault="qualified">
      <xs:include schemaLocation="{base}?xsd=common.xsd"/>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="EchoIn"><wsdl:part name="body" element="tns:Echo"/></wsdl:message>
  <wsdl:message name="EchoOut"><wsdl:part name="body" element="tns:EchoResponse"/></wsdl:message>
  <wsdl:portType name="EchoPort">
    <wsdl:operation name="Echo"><wsdl:input message="tns:EchoIn"/><wsdl:output message="tns:EchoOut"/></wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="EchoBinding" type="tns:EchoPort">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="Echo"><soap:operation soapAction="urn:test:echo:Echo"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input><wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="EchoService">
    <wsdl:port name="EchoPort" binding="tns:EchoBinding"><soap:address location="{base}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""

XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:test:echo" elementFormDefault="qualified">
  <xs:element name="Echo"><xs:complexType><xs:sequence>
    <xs:element name="{field}" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="EchoResponse"><xs:complexType><xs:sequence>
    <xs:element name="text" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>
"""


class Documents:
    """What a `Served` server answers: the WSDL and its XSD, `{base}` replaced by the URL the client asked at (as
    the mocks do), and how many times each was fetched."""

    def __init__(self) -> None:
        self.note = "echo"
        self.field = "text"
        self.extra = b""
        self.fetched: dict[str, int] = {}

    def body(self, query: str, base: str) -> bytes | None:
        self.fetched[query] = self.fetched.get(query, 0) + 1
        if query == "wsdl":
            return WSDL.format(note=self.note, base=base).encode() + self.extra
        if query == "xsd=common.xsd":
            return XSD.format(field=self.field).encode()
        return None


class Served:
    """A stdlib HTTP server on a random loopback port serving `documents` at /echo."""

    def __init__(self, documents: Documents) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path, _, query = self.path.partition("?")
                body = documents.body(query, f"http://{self.headers['Host']}{path}") if path == "/echo" else None
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/echo"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def documents() -> Documents:
    return Documents()


@pytest.fixture
def served(documents: Documents) -> Iterator[list[Served]]:
    """Two servers of the same documents on two ports."""
    made = [Served(documents), Served(documents)]
    yield made
    for server in made:
        server.close()


def _client(url: str, **settings: bool) -> zeep.Client:
    return zeep_documents.client(f"{url}?wsdl", Transport(timeout=5, operation_timeout=5),
                                 zeep.Settings(**{**SETTINGS, **settings}))


def _address(made: zeep.Client) -> str:
    address: str = made.service._binding_options["address"]
    return address


def test_the_address_is_the_origin_each_client_fetched_from(served: list[Served]) -> None:
    first, second = (_client(s.url) for s in served)
    assert first.wsdl is second.wsdl
    assert (_address(first), _address(second)) == (served[0].url, served[1].url)
    assert first.service.Echo._proxy._binding_options["address"] == served[0].url
    assert _parses() == 1


def test_every_client_fetches_the_wsdl_and_its_xsd(served: list[Served], documents: Documents) -> None:
    for _ in range(3):
        _client(served[0].url)
    assert documents.fetched == {"wsdl": 3, "xsd=common.xsd": 3}, "a shared parse still reads what the server serves"
    assert _parses() == 1


def test_a_changed_wsdl_is_parsed_again(served: list[Served], documents: Documents) -> None:
    old = _client(served[0].url)
    documents.note = "echo, second edition"
    new = _client(served[1].url)
    assert _parses() == 2 and new.wsdl is not old.wsdl
    assert _client(served[0].url).wsdl is new.wsdl, "the changed WSDL's parse is shared in turn"
    assert _parses() == 2


def test_a_changed_xsd_behind_the_same_wsdl_is_parsed_again(served: list[Served], documents: Documents) -> None:
    old = _client(served[0].url)
    assert old.get_element("{urn:test:echo}Echo")(text="hi").text == "hi"
    documents.field = "words"
    new = _client(served[0].url)
    assert _parses() == 2
    assert new.get_element("{urn:test:echo}Echo")(words="hi").words == "hi", "the new XSD's types"
    with pytest.raises(TypeError):
        new.get_element("{urn:test:echo}Echo")(text="hi")


def test_other_settings_are_another_parse(served: list[Served]) -> None:
    strict = _client(served[0].url)
    lenient = _client(served[0].url, strict=False)
    again = _client(served[1].url, strict=False)
    assert _parses() == 2
    assert strict.wsdl is not lenient.wsdl and lenient.wsdl is again.wsdl
    assert lenient.wsdl.settings.strict is False and strict.wsdl.settings.strict is True


def test_a_wsdl_read_from_a_file_is_shared_too(tmp_path: Path) -> None:
    (tmp_path / "common.xsd").write_text(XSD.format(field="text"), encoding="utf-8")
    wsdl = tmp_path / "echo.wsdl"
    wsdl.write_text(WSDL.format(note="file", base="http://127.0.0.1:9/echo").replace(
        "http://127.0.0.1:9/echo?xsd=common.xsd", "common.xsd"), encoding="utf-8")
    made = [zeep_documents.client(str(wsdl), Transport(), zeep.Settings(**SETTINGS)) for _ in range(2)]
    assert made[0].wsdl is made[1].wsdl and _parses() == 1
    assert _address(made[1]) == "http://127.0.0.1:9/echo", "an address the WSDL names outright is kept as it is"


def test_clients_built_at_once_in_threads_parse_once(served: list[Served]) -> None:
    made: list[zeep.Client] = []
    lock = threading.Lock()

    def build(url: str) -> None:
        one = _client(url)
        with lock:
            made.append(one)

    threads = [threading.Thread(target=build, args=(served[n % 2].url,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(made) == 8
    assert len({id(m.wsdl) for m in made}) == 1 and _parses() == 1
    assert sorted(_address(m) for m in made) == sorted([served[0].url] * 4 + [served[1].url] * 4)


def test_the_cache_is_bounded(served: list[Served], documents: Documents) -> None:
    for n in range(zeep_documents.MAX_ENTRIES + 3):
        documents.note = f"edition {n}"
        _client(served[0].url)
    assert _parses() == zeep_documents.MAX_ENTRIES + 3
    assert len(zeep_documents._CACHE.entries) == zeep_documents.MAX_ENTRIES
    documents.note = "edition 0"
    _client(served[0].url)
    assert _parses() == zeep_documents.MAX_ENTRIES + 4, "the oldest was dropped"


def test_an_over_large_wsdl_is_refused_without_reading_it_all(served: list[Served], documents: Documents) -> None:
    documents.extra = b"<!--" + b"x" * zeep_documents.MAX_DOCUMENT_BYTES + b"-->"
    with pytest.raises(zeep_documents.WsdlTooLarge, match="over"):
        _client(served[0].url)
    assert _parses() == 0


def test_a_connector_reports_an_unreadable_wsdl_as_unavailable(served: list[Served], documents: Documents) -> None:
    settings = BloodCenterSettings(wsdl_url=f"{served[0].url}?nothing", hospital_code="H1", token="t", timeout_s=1.0)
    with pytest.raises(CentreUnavailable, match="cannot read the WSDL"):
        BloodCenterConnector(settings)
    with pytest.raises(requests.HTTPError):
        _client(served[0].url.replace("/echo", "/none"))


def test_an_origin_is_no_prefix_of_a_longer_port() -> None:
    origin = zeep_documents._Origin("http://127.0.0.1:80/echo?wsdl")
    assert origin.mark_text("http://127.0.0.1:80/echo") == "\x00origin\x00/echo"
    assert origin.mark_text("http://127.0.0.1:8080/echo") == "http://127.0.0.1:8080/echo"
    assert origin.mark_bytes(b'location="http://127.0.0.1:80"') == b'location="\x00origin\x00"'
    assert zeep_documents._Origin("/tmp/echo.wsdl").mark_text("/tmp/echo.wsdl") == "/tmp/echo.wsdl"


# Text around an origin: no NUL, no ':' (so no other origin), and after each origin a character a host cannot go on with
_TEXT = st.text(st.sampled_from("abcxyz019 /?=<>\"'"), max_size=12)


@given(st.lists(st.tuples(_TEXT, st.sampled_from("/?\"'< ")), min_size=1, max_size=5),
       st.integers(1, 65535), st.integers(1, 65535), st.sampled_from(["127.0.0.1", "localhost", "mock.example"]))
def test_documents_that_differ_only_in_their_origin_compare_equal_and_map_back(
        pieces: list[tuple[str, str]], port: int, other: int, host: str) -> None:
    first, second = (zeep_documents._Origin(f"http://{host}:{p}/svc?wsdl") for p in (port, other))

    def text(origin: str) -> str:
        return "".join(f"{before}{origin}{after}" for before, after in pieces)

    one, two = text(first.value), text(second.value)
    assert first.mark_text(one) == second.mark_text(two)
    assert first.mark_bytes(one.encode()) == second.mark_bytes(two.encode())
    assert second.unmark(first.mark_text(one)) == two, "an address of the first maps to the second's"
