"""The insurance connector's TLS context: httpx's verifying one (`httpx.create_ssl_context()`), its CA certificates
read at its first TLS connection rather than when a connector is built (a platform at an http:// address, every
`hih run`'s mock, never reads them).

Oracle: httpx's own context, made in the same environment: the same settings, the same certificates once read, and
over a real socket to a loopback TLS server with a certificate of its own the same outcome (refused while the server's
certificate is not trusted, the reply once SSL_CERT_FILE names it).
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connectors import insurance

SETTINGS = ("protocol", "verify_mode", "check_hostname", "options", "verify_flags", "minimum_version",
            "maximum_version", "keylog_filename", "post_handshake_auth", "hostname_checks_common_name")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    """A loopback HTTPS server answering every GET with 200 `ok`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _settings(context: ssl.SSLContext) -> dict[str, object]:
    return {name: getattr(context, name) for name in SETTINGS}


def test_the_connectors_context_is_the_lazy_one() -> None:
    assert isinstance(insurance._tls_context(), insurance._VerifyingContext)


@pytest.mark.parametrize("environment", ["none", "SSL_CERT_FILE", "SSLKEYLOGFILE"])
def test_httpxs_settings_and_certificates_read_only_when_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              certificate: tuple[Path, Path],
                                                              environment: str) -> None:
    if environment == "SSL_CERT_FILE":
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    elif environment == "SSLKEYLOGFILE":
        monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    lazy, httpxs = insurance._VerifyingContext.like_httpx(), httpx.create_ssl_context()
    assert _settings(lazy) == _settings(httpxs)
    assert lazy.cert_store_stats()["x509_ca"] == 0, "nothing read when made"
    lazy.load_now()
    lazy.load_now()  # once
    assert httpxs.cert_store_stats()["x509_ca"] > 0
    assert lazy.cert_store_stats() == httpxs.cert_store_stats()
    assert lazy.get_ca_certs() == httpxs.get_ca_certs()


@pytest.mark.parametrize("trusted", [False, True])
def test_a_tls_connection_is_verified_as_httpx_verifies_it(monkeypatch: pytest.MonkeyPatch, tls_server: str,
                                                           certificate: tuple[Path, Path], trusted: bool) -> None:
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    outcomes = []
    for context in (httpx.create_ssl_context(), insurance._VerifyingContext.like_httpx()):
        with httpx.Client(verify=context, timeout=10) as client:
            try:
                outcomes.append(client.get(tls_server).text)
            except httpx.ConnectError as exc:
                outcomes.append("CERTIFICATE_VERIFY_FAILED" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else repr(exc))
    assert outcomes == (["ok", "ok"] if trusted else ["CERTIFICATE_VERIFY_FAILED"] * 2)
