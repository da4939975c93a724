"""An MLLP client: send HL7 v2 messages on one kept connection and wait for each one's acknowledgement.

`MllpClient` (asyncio) frames a message, sends it, reads frames until the ACK whose MSA-2 echoes the message's
MSH-10 arrives (or the timeout), and keeps the connection for the next message. ACKs of earlier messages that
arrive late or twice are skipped (listed in `Ack.stale`); an ACK for a control id it never sent is a wrong MSA-2
(`AckMismatch`); a frame with no MSA is `MalformedAck`. After a reset or a close by the peer the next send
reconnects; with `retries` a send that timed out or lost its connection is sent again, byte for byte (same MSH-10,
so a receiver that detects duplicates does not process it twice). `MllpSyncClient` wraps it for synchronous code
(connectors, steps).

It depends on the standard library and `harness.contract.hl7` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from harness.contract.hl7.charsets import CharsetPolicy, codec, decode_message
from harness.contract.hl7.message import Message, parse
from harness.contract.hl7.mllp import DEFAULT_MAX_FRAME, END, SB, Deframer

POSITIVE = frozenset({"AA", "CA"})


class MllpError(Exception):
    """Something went wrong sending a message or waiting for its acknowledgement."""


class AckTimeout(MllpError, TimeoutError):
    """No acknowledgement within the timeout."""


class ConnectionLost(MllpError, ConnectionError):
    """The connection was reset or closed before the acknowledgement came."""


class MalformedAck(MllpError):
    """A frame came back that is no acknowledgement (no MSA segment)."""

    def __init__(self, message: str, raw: bytes) -> None:
        super().__init__(message)
        self.raw = raw


class AckMismatch(MllpError):
    """An acknowledgement whose MSA-2 is not the MSH-10 sent (nor any sent before on this client)."""

    def __init__(self, expected: str, got: str, ack: Message, raw: bytes) -> None:
        super().__init__(f"ACK MSA-2 is {got!r}; the message sent had MSH-10 {expected!r}")
        self.expected = expected
        self.got = got
        self.ack = ack
        self.raw = raw


@dataclass
class Ack:
    """The acknowledgement(s) of one message: in original mode one; in enhanced mode accept and application."""

    control_id: str
    acks: list[Message]
    raws: list[bytes]
    elapsed_s: float
    stale: list[bytes] = field(default_factory=list)
    attempts: int = 1

    @property
    def message(self) -> Message | None:
        """The last acknowledgement received (the application one when there are two); None when none was due."""
        return self.acks[-1] if self.acks else None

    @property
    def raw(self) -> bytes:
        return self.raws[-1] if self.raws else b""

    @property
    def code(self) -> str:
        """MSA-1 of the last acknowledgement ("" when none was due)."""
        return self.acks[-1].get("MSA-1") if self.acks else ""

    @property
    def codes(self) -> list[str]:
        return [a.get("MSA-1") for a in self.acks]

    @property
    def ok(self) -> bool:
        """Every acknowledgement positive (AA, CA)."""
        return bool(self.acks) and all(code in POSITIVE for code in self.codes)

    @property
    def errors(self) -> list[str]:
        """ERR-3.1 codes (v2.5) or ERR-1.4 codes (v2.4) of every acknowledgement."""
        out = []
        for ack in self.acks:
            for seg in ack.all("ERR"):
                index = seg.index
                code = ack.get(f"ERR[{index}]-3.1") if index > 1 else ack.get("ERR-3.1")
                if code:
                    out.append(code)
                    continue
                for rep in ack.repetitions(f"ERR[{index}]-1" if index > 1 else "ERR-1"):
                    parts = rep.split(ack.seps.component)
                    if len(parts) > 3:
                        out.append(parts[3].split(ack.seps.subcomponent)[0])
        return out


def expected_acks(msg: Message) -> int:
    """How many acknowledgements a message asks for: 1 in original mode; in enhanced mode one for each of MSH-15
    and MSH-16 that is AL (ER and SU bring one only on error or on success: not waited for)."""
    if not msg.enhanced_mode:
        return 1
    return (msg.accept_ack == "AL") + (msg.application_ack == "AL")


def _encode(message: str | bytes | Message, charset: str) -> tuple[bytes, Message]:
    """The message's bytes (by its MSH-18, else `charset`) and its parsed form."""
    if isinstance(message, Message):
        msg = message
        text = msg.to_er7()
    elif isinstance(message, str):
        text = message.replace("\r\n", "\r").replace("\n", "\r")
        msg = parse(text)
    else:
        decoded = decode_message(message, CharsetPolicy(default=charset, accepted=(charset,)))
        return message, parse(decoded.text, decoded.charset)
    name = msg.declared_charset or charset
    try:
        enc = codec(name)
    except LookupError:
        enc = codec(charset)
    return text.encode(enc), msg


class MllpClient:
    """One MLLP connection to `host:port`, opened on first use and kept; see the module docs."""

    def __init__(self, host: str, port: int, *, timeout: float = 5.0, connect_timeout: float = 5.0,
                 retries: int = 0, charset: str = "UNICODE UTF-8", max_frame: int = DEFAULT_MAX_FRAME,
                 remember: int = 1000) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.charset = charset
        self.max_frame = max_frame
        self._policy = CharsetPolicy(default=charset, accepted=(charset,))
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._deframer = Deframer(max_frame)
        self._pending: deque[bytes] = deque()
        self._sent: deque[str] = deque(maxlen=remember)
        self._sent_set: set[str] = set()
        self.connects = 0

    # -- connection -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing() and \
            self._reader is not None and not self._reader.at_eof()

    async def connect(self) -> None:
        """Open the connection (closing a broken one first)."""
        await self._drop()
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=2**16), self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._deframer = Deframer(self.max_frame)
        self._pending.clear()
        self.connects += 1

    async def _drop(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def close(self) -> None:
        await self._drop()

    async def __aenter__(self) -> MllpClient:
        await self.connect()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # -- raw frames -------------------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Write raw bytes (already framed, or deliberately not) on the connection, connecting if needed."""
        if self._writer is not None:
            await asyncio.sleep(0)  # let the loop take in a close or reset that came while we were away
        if not self.connected:
            await self.connect()
        assert self._writer is not None
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            await self._drop()
            raise ConnectionLost(f"connection to {self.host}:{self.port} lost while sending: {exc}") from exc

    async def read_frame(self, timeout: float | None = None) -> bytes:
        """The next frame's payload; AckTimeout when none comes in time, ConnectionLost on reset or close."""
        if self._pending:
            return self._pending.popleft()
        if self._reader is None:
            raise ConnectionLost(f"not connected to {self.host}:{self.port}")
        reader = self._reader
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                while not self._pending:
                    data = await reader.read(65536)
                    if not data:
                        await self._drop()
                        raise ConnectionLost(f"{self.host}:{self.port} closed the connection")
                    for frame in self._deframer.feed(data):
                        if not frame.oversized:
                            self._pending.append(frame.payload)
        except ConnectionLost:
            raise
        except TimeoutError:
            raise AckTimeout(f"no acknowledgement from {self.host}:{self.port} within "
                             f"{self.timeout if timeout is None else timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            await self._drop()
            raise ConnectionLost(f"connection to {self.host}:{self.port} lost: {exc}") from exc
        return self._pending.popleft()

    def decode(self, payload: bytes) -> Message:
        """An acknowledgement's bytes as a parsed message (by its MSH-18, else the client's charset)."""
        decoded = decode_message(payload, self._policy)
        return parse(decoded.text, decoded.charset)

    # -- messages ---------------------------------------------------------------------------------------
    async def send(self, message: str | bytes | Message, *, timeout: float | None = None,
                   expect: int | None = None, check: bool = True, retries: int | None = None) -> Ack:
        """Send one message and return its acknowledgement(s).

        `expect`: how many ACKs to wait for (default by MSH-15/16: 1 in original mode). `check`: raise
        AckMismatch on an ACK for a control id never sent, MalformedAck on a frame without MSA. `retries`
        (default the client's): resend the same bytes after a timeout or a lost connection.
        """
        payload, msg = _encode(message, self.charset)
        if msg.segments and msg.segments[0].name in ("FHS", "BHS"):
            return await self._send_batch(payload, msg, timeout, check)
        control = msg.control_id
        wait = expected_acks(msg) if expect is None else expect
        attempts = 1 + (self.retries if retries is None else retries)
        started = time.perf_counter()
        stale: list[bytes] = []
        for attempt in range(1, attempts + 1):
            try:
                await self.write(SB + payload + END)
                self._remember(control)
                acks, raws = await self._collect(control, wait, timeout, check, stale)
            except (AckTimeout, ConnectionLost):
                if attempt == attempts:
                    raise
                continue
            return Ack(control, acks, raws, time.perf_counter() - started, stale, attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_batch(self, payload: bytes, batch: Message, timeout: float | None, check: bool) -> Ack:
        """A batch (FHS/BHS ... BTS/FTS) in one frame; its answer is one batch acknowledgement frame, whose MSA-2s
        must be the MSH-10s of the batch's messages."""
        controls = [seg.field(10) for seg in batch.all("MSH")]
        started = time.perf_counter()
        await self.write(SB + payload + END)
        for control in controls:
            self._remember(control)
        raw = await self.read_frame(self.timeout if timeout is None else timeout)
        reply = self.decode(raw)
        echoed = [seg.field(2) for seg in reply.all("MSA")]
        if check:
            if not reply.segments or reply.segments[0].name not in ("FHS", "BHS"):
                raise MalformedAck(f"the answer to a batch is no batch: {raw[:120]!r}", raw)
            wrong = [e for e in echoed if e not in controls]
            if wrong:
                raise AckMismatch(",".join(controls), ",".join(wrong), reply, raw)
        return Ack(",".join(controls), [reply], [raw], time.perf_counter() - started)

    async def _collect(self, control: str, wait: int, timeout: float | None, check: bool,
                       stale: list[bytes]) -> tuple[list[Message], list[bytes]]:
        acks: list[Message] = []
        raws: list[bytes] = []
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        while len(acks) < wait:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AckTimeout(f"no acknowledgement for MSH-10 {control!r} within {budget:g} s")
            raw = await self.read_frame(left)
            ack = self.decode(raw)
            if ack.segment("MSA") is None:
                if check:
                    raise MalformedAck(f"a frame without MSA came back for MSH-10 {control!r}: {raw[:120]!r}", raw)
                acks.append(ack)
                raws.append(raw)
                continue
            echoed = ack.get("MSA-2")
            if echoed == control:
                acks.append(ack)
                raws.append(raw)
            elif echoed in self._sent_set:
                stale.append(raw)  # a late or repeated ACK of an earlier message
            elif check:
                raise AckMismatch(control, echoed, ack, raw)
            else:
                acks.append(ack)
                raws.append(raw)
        return acks, raws

    def _remember(self, control: str) -> None:
        if control in self._sent_set:
            return
        if len(self._sent) == self._sent.maxlen:
            self._sent_set.discard(self._sent[0])
        self._sent.append(control)
        self._sent_set.add(control)


class MllpSyncClient:
    """`MllpClient` for synchronous code: the same calls, run on a private event loop."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self.client = MllpClient(host, port, **options)

    def send(self, message: str | bytes | Message, **options: Any) -> Ack:
        return self._loop.run_until_complete(self.client.send(message, **options))

    def send_all(self, messages: Sequence[str | bytes | Message], **options: Any) -> list[Ack]:
        return [self.send(m, **options) for m in messages]

    def write(self, data: bytes) -> None:
        self._loop.run_until_complete(self.client.write(data))

    def read_frame(self, timeout: float | None = None) -> bytes:
        return self._loop.run_until_complete(self.client.read_frame(timeout))

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self.client.close())
            self._loop.close()

    def __enter__(self) -> MllpSyncClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
