"""A `requests` session for the SOAP connectors that reads the environment's proxy settings once per origin.

requests, with `trust_env` on (its default), looks the proxies up in the environment on every request:
`get_environ_proxies` walks all of `os.environ` (`HTTP_PROXY`, `NO_PROXY`, ...) once for the proxies and again
for the bypass list, whatever the URL. A SOAP connector sends every call, and zeep fetches every WSDL document,
to one or two origins, so that walk is the same answer each time, and it cost about 5 % of a full run's pytest
process. This session asks requests the same question (`get_environ_proxies`, its own function) once per origin
and `no_proxy` setting, and answers later requests to that origin from what it kept.

The behaviour behind a proxy is requests' own, read when the session first talks to an origin: a change of the
environment after that (a proxy set or removed in the same process) reaches the next connector, not one already
built. Everything else of `trust_env` (the CA bundle from `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE`, `.netrc`) is
requests' unchanged.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

MAX_ORIGINS = 64
"""Origins whose proxies a session keeps (a connector talks to one or two); past it the session starts again."""


class ProxiesOnceSession(requests.Session):
    """`requests.Session` whose environment proxies are looked up once per origin (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._environ_proxies: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._lock = threading.Lock()

    def environ_proxies(self, url: str, no_proxy: str | None) -> dict[str, str]:
        """What `requests.utils.get_environ_proxies(url, no_proxy)` answered for this origin the first time."""
        parts = urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower(), no_proxy)
        with self._lock:
            found = self._environ_proxies.get(key)
        if found is None:
            found = dict(get_environ_proxies(url, no_proxy=no_proxy))
            with self._lock:
                if len(self._environ_proxies) >= MAX_ORIGINS:
                    self._environ_proxies.clear()
                self._environ_proxies[key] = found
        return found

    def merge_environment_settings(self, url: str, proxies: dict[str, str] | None, stream: bool | None,
                                   verify: Any, cert: Any) -> dict[str, Any]:
        """requests' `Session.merge_environment_settings` (2.x), with the environment's proxies kept per origin."""
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        if proxies is not None:
            for k, v in self.environ_proxies(url, no_proxy).items():
                proxies.setdefault(k, v)
        if verify is True or verify is None:  # as requests: the CA bundle of the environment, compatible with cURL
            verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or verify
        return {"proxies": merge_setting(proxies, self.proxies), "stream": merge_setting(stream, self.stream),
                "verify": merge_setting(verify, self.verify), "cert": merge_setting(cert, self.cert)}
