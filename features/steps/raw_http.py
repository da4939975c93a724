"""The HTTP client of the steps that post raw SOAP past the connector (a breach, a forged session, a DTD).

One per process, not `httpx.post` per call: each `httpx.post` builds a whole client and its TLS context (≈ 30 ms of
CPU, more than the request). Connections are not kept between requests, as with `httpx.post`: every scenario has
a mock of its own, and a request is one exchange with it.
"""

from __future__ import annotations

import threading

import httpx

_client: httpx.Client | None = None
_lock = threading.Lock()


def _shared() -> httpx.Client:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        return _client


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> httpx.Response:
    """POST `body` to `url` on a fresh connection; every wait bounded by `timeout_s`."""
    return _shared().post(url, content=body, headers=headers, timeout=timeout_s)
