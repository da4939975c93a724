"""A planted insurance connector that never times out: its person query waits, with no timeout, on a peer that took
the connection and never answers (a platform process that hangs; the kernel completes the handshake for it). Every
other operation is the reference connector's."""

from __future__ import annotations

import socket
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Person


class HangingConnector(InsuranceConnector):
    def query_person(self, cert: Certificate) -> Person:
        with socket.socket() as hung:  # listens, never accepts, never answers
            hung.bind(("127.0.0.1", 0))
            hung.listen(1)
            with socket.create_connection(hung.getsockname()) as sock:
                sock.settimeout(None)  # the defect: no timeout on the wait for the reply
                sock.sendall(b"POST /fsi/api/rsfComIfsService/callService HTTP/1.1\r\nHost: platform\r\n"
                             b"Content-Length: 1\r\n\r\n{")
                sock.recv(1)  # nobody will ever answer: this waits forever
        raise AssertionError("unreachable: the hung peer never answers")


def make(settings: InsuranceSettings) -> Any:
    return HangingConnector(settings)
