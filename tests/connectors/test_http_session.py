"""The SOAP connectors' session: requests' own answer about proxies, looked up once per origin.

Oracle: a plain `requests.Session` given the same environment and URL. Over a real socket: a loopback server
standing for an HTTP proxy receives the request when the environment names it, and none when `NO_PROXY` covers
the host.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import http_session
from connectors.http_session import ProxiesOnceSession
from tests.strategies import examples

HOSTS = ("127.0.0.1", "localhost", "soap.example.org", "blood.example.cn", "[::1]")
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
              "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


environments = st.fixed_dictionaries({}, optional={
    "HTTP_PROXY": st.sampled_from(["http://proxy.example:3128", "http://127.0.0.1:9"]),
    "HTTPS_PROXY": st.just("http://secure-proxy.example:3128"),
    "NO_PROXY": st.lists(st.sampled_from(["localhost", "127.0.0.1", ".example.org", "blood.example.cn", "*"]),
                         max_size=3).map(",".join),
    "REQUESTS_CA_BUNDLE": st.just("/etc/ssl/hih-test.pem"),
})
urls = st.builds(lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
                 st.sampled_from(["http", "https"]), st.sampled_from(HOSTS),
                 st.sampled_from(["", ":8080", ":443"]), st.sampled_from(["/", "/BloodService?wsdl", "/x/y"]))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(env=environments, calls=st.lists(st.tuples(urls, st.sampled_from([None, "localhost", "*"])), min_size=1,
                                        max_size=6))
def test_the_settings_are_requests_own(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                       calls: list[tuple[str, str | None]]) -> None:
    _clean(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ours, theirs = ProxiesOnceSession(), requests.Session()
    with ours, theirs:
        for url, no_proxy in calls:  # the same origin asked again is answered from what the session kept
            given_proxies = {} if no_proxy is None else {"no_proxy": no_proxy}
            expected = theirs.merge_environment_settings(url, dict(given_proxies), None, None, None)
            assert ours.merge_environment_settings(url, dict(given_proxies), None, None, None) == expected


def test_the_environment_is_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    asked: list[str] = []
    real = http_session.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        asked.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(http_session, "get_environ_proxies", counted)
    with ProxiesOnceSession() as session:
        for path in ("/a", "/b?wsdl", "/c"):
            got = session.merge_environment_settings(f"http://soap.example.org:8080{path}", {}, None, None, None)
            assert got["proxies"]["http"] == "http://proxy.example:3128"
        session.merge_environment_settings("http://other.example.org/", {}, None, None, None)
        monkeypatch.delenv("HTTP_PROXY")  # a later change: not seen by this session, seen by the next
        kept = session.merge_environment_settings("http://soap.example.org:8080/d", {}, None, None, None)
        assert kept["proxies"]["http"] == "http://proxy.example:3128"
    assert asked == ["http://soap.example.org:8080/a", "http://other.example.org/"]
    with ProxiesOnceSession() as fresh:
        assert "http" not in fresh.merge_environment_settings("http://soap.example.org:8080/", {}, None, None,
                                                              None)["proxies"]


def test_trust_env_off_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    with ProxiesOnceSession() as session:
        session.trust_env = False
        assert session.merge_environment_settings("http://soap.example.org/", {}, None, None, None)["proxies"] == {}


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 200 and records the request line (a proxy receives the absolute URL)."""

    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append(self.path)
        body = b"<ok/>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass


@pytest.fixture()
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Proxy,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_requests_go_through_the_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch,
                                                             proxy: tuple[str, list[str]]) -> None:
    address, seen = proxy
    _clean(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", address)
    with ProxiesOnceSession() as session:
        for n in range(3):
            reply = session.get(f"http://partner.invalid:8080/BloodService?n={n}", timeout=5)
            assert reply.status_code == 200 and reply.content == b"<ok/>"
    assert seen == [f"http://partner.invalid:8080/BloodService?n={n}" for n in range(3)]


def test_no_proxy_sends_direct(monkeypatch: pytest.MonkeyPatch, proxy: tuple[str, list[str]]) -> None:
    address, seen = proxy
    _clean(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there: used, it would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with ProxiesOnceSession() as session:
        for _ in range(2):
            assert session.get(f"{address}/direct", timeout=5).status_code == 200
    assert seen == ["/direct", "/direct"]
