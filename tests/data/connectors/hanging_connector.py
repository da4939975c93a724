"""A planted insurance connector that never times out: its person query waits on a socket the platform never
answers (it sent half a request), with no timeout. Every other operation is the reference connector's."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Person


class HangingConnector(InsuranceConnector):
    def query_person(self, cert: Certificate) -> Person:
        where = urlsplit(self.settings.base_url)
        with socket.create_connection((where.hostname or "127.0.0.1", where.port or 80)) as sock:
            sock.settimeout(None)  # the defect: no timeout on the wait for the reply
            sock.sendall(b"POST /fsi/api/rsfComIfsService/callService HTTP/1.1\r\nHost: platform\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
            sock.recv(1)  # the platform waits for the rest of the body; this waits for the reply: forever
        raise AssertionError("unreachable: the platform never answers half a request")


def make(settings: InsuranceSettings) -> Any:
    return HangingConnector(settings)
