"""MLLP transport tests over real loopback sockets: a server factory, a raw socket peer, the contracts.

`serve(handler, **config)` starts an `MllpServer` (journal and fault plan on) on the session's `Runtime` at a free
127.0.0.1 port and stops it after the test. `Peer` is a blocking socket that speaks bytes, for what a well-behaved
client would never send.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.contract.hl7.charsets import decode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import Deframer, frame
from harness.contract.hl7.mllp_client import MllpSyncClient
from harness.contract.loader import ContractStore
from harness.contract.model import Contract
from mocks.transport.faults import Fault, FaultPlan
from mocks.transport.journal import Journal
from mocks.transport.mllp import AcceptAll, ContractHandler, MllpConfig, MllpExchange, MllpHandler, MllpServer
from mocks.transport.runtime import Listener, Runtime
from tests.conftest import CONTRACTS


class Peer:
    """A blocking TCP peer: send any bytes, read frames or the end of the connection, with deadlines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2.0)
        self.deframer = Deframer()
        self.frames: list[bytes] = []
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def message(self, text: str, encoding: str = "utf-8") -> None:
        self.send(frame(text.encode(encoding)))

    def _read(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.frames.extend(f.payload for f in self.deframer.feed(data))
        return True

    def read(self, count: int = 1, timeout: float = 2.0) -> list[bytes]:
        """The next `count` frame payloads; fewer when the time runs out or the connection ends."""
        deadline = time.monotonic() + timeout
        while len(self.frames) < count and self._read(deadline):
            pass
        out, self.frames = self.frames[:count], self.frames[count:]
        return out

    def ack(self, timeout: float = 2.0) -> Message:
        frames = self.read(1, timeout)
        assert frames, "no acknowledgement came back"
        return decoded(frames[0])

    def closed_within(self, timeout: float) -> bool:
        """True when the server ends the connection (FIN or RST) within `timeout`; frames read meanwhile are kept."""
        deadline = time.monotonic() + timeout
        while not self.eof and self._read(deadline):
            pass
        return self.eof

    def close(self) -> None:
        self.sock.close()


def decoded(payload: bytes) -> Message:
    """An acknowledgement's bytes parsed (decoded by its MSH-18)."""
    d = decode_message(payload)
    return parse(d.text, d.charset)


@dataclass
class Served:
    """A running MLLP server (configured from the handler's contract when it has one) and what a test needs around it."""

    server: MllpServer
    handler: Any
    journal: Journal
    faults: FaultPlan
    listener: Listener
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.listener.port

    def client(self, **options: Any) -> MllpSyncClient:
        options.setdefault("timeout", 2.0)
        client = MllpSyncClient("127.0.0.1", self.port, **options)
        self.closers.append(client.close)
        return client

    def peer(self) -> Peer:
        peer = Peer(self.port)
        self.closers.append(peer.close)
        return peer

    def inject(self, kind: str, **options: Any) -> Fault:
        return self.faults.add(Fault(kind=kind, **options))

    def exchanges(self, operation: str | None = None) -> list[MllpExchange]:
        found = [e for e in self.journal.entries(operation) if isinstance(e, MllpExchange)]
        return found

    def wait_exchanges(self, count: int, timeout: float = 2.0) -> list[MllpExchange]:
        deadline = time.monotonic() + timeout
        while len(self.journal) < count:
            assert time.monotonic() < deadline, f"{len(self.journal)} exchanges journaled, {count} expected"
            time.sleep(0.005)
        return self.exchanges()


@pytest.fixture
def serve(runtime: Runtime) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(handler: MllpHandler | None = None, **config: Any) -> Served:
        handler = handler or AcceptAll("lis")
        journal, faults = Journal(), FaultPlan()
        settings = MllpConfig.from_contract(handler.contract, **config) if isinstance(handler, ContractHandler) \
            else MllpConfig(**config)
        server = MllpServer(handler, journal, faults, settings)
        served = Served(server, handler, journal, faults, server.start(runtime))
        started.append(served)
        return served

    yield start
    for served in started:
        for close in served.closers:
            close()
        runtime.call(served.listener.stop())


@pytest.fixture(scope="session")
def hl7_store() -> ContractStore:
    return ContractStore(CONTRACTS)


@pytest.fixture(scope="session")
def lis_2024(hl7_store: ContractStore) -> Contract:
    return hl7_store.load("lis", "2024.1")


@pytest.fixture(scope="session")
def lis_2023(hl7_store: ContractStore) -> Contract:
    return hl7_store.load("lis", "2023.1")
