"""Group commit in the LIS connector's listener: results that several connections deliver at once are stored in
one transaction and acknowledged only after it commits; a duplicate inside one batch is stored once and gets the
first one's ACK; a failed commit answers none of them. And the listener's batching itself: no answer leaves
before the batch handler returns, one frame per connection per batch, a raising handler closes the batch's
connections."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.hl7_common import MessageStore
from connectors.lis import LisConnector
from harness.contract.hl7.message import parse
from harness.contract.hl7.mllp import Deframer, frame
from harness.contract.hl7.mllp_listener import MllpListener
from harness.contract.loader import ContractStore
from harness.ports.hl7 import Hl7Settings
from tests.contracts.hl7 import messages as m


@pytest.fixture
def lis(store: ContractStore, tmp_path: Path) -> Iterator[LisConnector]:
    contract = store.load("lis", "2024.1")
    connector = LisConnector(
        Hl7Settings(
            "127.0.0.1",
            9,
            timeout_s=0.5,
            contract_version=contract.version,
            contract_folder=str(contract.folder),
            store_path=str(tmp_path / "received.sqlite"),
        )
    )
    yield connector
    connector.close()


def result(control: str) -> bytes:
    return m.lis_oru(3, control=control).encode()


def msa(reply: bytes) -> tuple[str, str]:
    ack = parse(reply.decode())
    return ack.get("MSA-1"), ack.get("MSA-2")


def answer(sock: socket.socket, payload: bytes) -> bytes | None:
    """Send one framed message on an open connection; the ACK payload, or None when the connection closed first."""
    sock.sendall(frame(payload))
    deframer = Deframer()
    while True:
        data = sock.recv(65536)
        if not data:
            return None
        frames = deframer.feed(data)
        if frames:
            return frames[0].payload


def exchange(address: tuple[str, int], payload: bytes, timeout: float = 5.0) -> bytes | None:
    """`answer` on a new connection."""
    with socket.create_connection(address, timeout=timeout) as sock:
        return answer(sock, payload)


def test_a_batch_is_committed_once_and_acknowledged_after(
    lis: LisConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    original = MessageStore.batch

    def watched(store: MessageStore) -> Iterator[None]:
        events.append("begin")
        with original(store):
            yield
            events.append("commit")
        events.append("committed")

    monkeypatch.setattr(MessageStore, "batch", contextlib.contextmanager(watched))
    payloads = [
        result("R1"),
        result("R2"),
        m.lis_oru(3, control="R3").replace("|F|", "|X|").encode(),
        result("R1"),
    ]
    replies = lis.receive_many(payloads)
    events.append("answered")
    assert events == ["begin", "commit", "committed", "answered"]
    codes = [msa(r[0]) for r in replies if not isinstance(r, Exception)]
    assert codes[0] == ("AA", "R1") and codes[1] == ("AA", "R2") and codes[3] == ("AA", "R1")
    assert codes[2][0] in ("AE", "AR")
    assert replies[3] == replies[0]  # the duplicate of the same batch: the first one's ACK, byte for byte
    stored = lis.stored()
    assert [s.control_id for s in stored] == [
        "R1",
        "R2",
    ]  # the invalid one not stored, the duplicate not twice


def test_a_failed_commit_answers_none_and_stores_none(lis: LisConnector) -> None:
    class Broken:
        def __init__(self, db: object) -> None:
            self.db = db

        def execute(self, sql: str, *args: object) -> object:
            if sql == "COMMIT":
                raise OSError("disk full")
            return self.db.execute(sql, *args)  # type: ignore[attr-defined]

        def __getattr__(self, name: str) -> object:
            return getattr(self.db, name)

    real = lis.store._db
    lis.store._db = Broken(real)  # type: ignore[assignment]
    with pytest.raises(OSError):
        lis.receive_many([result("F1"), result("F2")])
    lis.store._db = real
    assert lis.stored() == []
    assert [msa(r[0]) for r in lis.receive_many([result("F1")]) if not isinstance(r, Exception)] == [
        ("AA", "F1")
    ]


def test_concurrent_connections_are_grouped_and_all_stored(lis: LisConnector) -> None:
    sizes: list[int] = []
    hold = threading.Event()
    held = threading.Event()
    receive_many = lis.receive_many

    def holding(payloads: list[bytes]) -> list[list[bytes] | Exception]:
        sizes.append(len(payloads))
        if hold.is_set() and not held.is_set():
            held.set()
            time.sleep(0.3)  # the other connections deliver meanwhile and are taken together next
        return receive_many(payloads)

    lis._listener.handle_batch = holding
    address = lis.listener()
    conns = [socket.create_connection(address, timeout=5) for _ in range(6)]

    def ask(sock: socket.socket, control: str) -> tuple[str, str] | None:
        reply = answer(sock, result(control))
        return None if reply is None else msa(reply)

    try:
        for n, sock in enumerate(conns):  # every connection open and served once
            assert ask(sock, f"W{n}") == ("AA", f"W{n}")
        hold.set()
        replies: dict[str, tuple[str, str] | None] = {}
        first = threading.Thread(target=lambda: replies.__setitem__("G0", ask(conns[0], "G0")))
        first.start()
        assert held.wait(5)
        others = [
            threading.Thread(target=lambda n=n: replies.__setitem__(f"G{n}", ask(conns[n], f"G{n}")))
            for n in range(1, 6)
        ]
        for thread in others:
            thread.start()
        for thread in [first, *others]:
            thread.join(10)
    finally:
        for sock in conns:
            sock.close()
    assert replies == {f"G{n}": ("AA", f"G{n}") for n in range(6)}
    assert max(sizes) > 1, sizes
    assert sorted(s.control_id for s in lis.stored()) == sorted(
        [f"W{n}" for n in range(6)] + [f"G{n}" for n in range(6)]
    )


def test_the_listener_answers_nothing_before_the_batch_handler_returns() -> None:
    release = threading.Event()
    batches: list[list[bytes]] = []

    def handle_batch(payloads: list[bytes]) -> list[list[bytes] | Exception]:
        batches.append(payloads)
        release.wait(5)
        return [[b"ACK " + p] if p != b"boom" else RuntimeError("boom") for p in payloads]

    listener = MllpListener(lambda payload: [b"single " + payload], handle_batch=handle_batch)
    address = listener.start()
    try:
        got: dict[bytes, bytes | None] = {}
        started = time.monotonic()
        threads = [
            threading.Thread(target=lambda p=p: got.__setitem__(p, exchange(address, p)))
            for p in (b"one", b"two", b"boom")
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert got == {}  # held while the handler runs
        release.set()
        for thread in threads:
            thread.join(10)
        assert time.monotonic() - started >= 0.3
        assert got == {
            b"one": b"ACK one",
            b"two": b"ACK two",
            b"boom": None,
        }  # a failed frame: closed, no answer
        assert any("boom" in e for e in listener.errors)
        assert all(len(batch) == len(set(batch)) for batch in batches)
    finally:
        listener.close()
