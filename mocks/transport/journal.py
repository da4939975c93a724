"""The journal: every exchange that crosses a mock, with raw bytes, parsed form, findings and the fault applied.

A mock runs for days as a training server, so the journal is bounded twice: by entries (10,000) and by bytes (64 MiB
by default, `max_bytes`). A body over `entry_bytes` (1 MiB) is kept as its first 16 KiB with its length and SHA-256,
and without its parsed form; an entry's findings are kept up to 200 a side. The bytes an entry costs are an
estimate of what it holds in memory: its raw bodies four times over (a parsed JSON body takes about three times its
text, measured) plus 1 KiB for the rest. The oldest entries go first, counted in `dropped`.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.contract.findings import MAX_MESSAGE, Finding, Severity, clip

DEFAULT_MAX_BYTES = 64 * 2**20
DEFAULT_ENTRY_BYTES = 2**20
KEPT_HEAD = 16 * 1024
MAX_FINDINGS = 200
ENTRY_OVERHEAD = 1024
RAW_WEIGHT = 4


@dataclass(frozen=True)
class Truncated:
    """What a journal entry kept of a body too large to keep whole: its length and digest."""

    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"bytes": self.size, "sha256": self.sha256, "kept": KEPT_HEAD}


@dataclass
class Exchange:
    """One request and its reply (or the lack of one) as the mock saw them."""

    interface: str
    transport: str
    operation: str | None
    request_raw: bytes
    request: Any = None
    request_findings: list[Finding] = field(default_factory=list)
    response_raw: bytes | None = None
    response: Any = None
    response_findings: list[Finding] = field(default_factory=list)
    status: int | None = None
    fault: str | None = None
    direction: str = "inbound"
    """inbound: the system under test called the mock; outbound: the mock called the system under test."""
    peer: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    duration_ms: float = 0.0
    id: int = 0
    request_truncated: Truncated | None = None
    response_truncated: Truncated | None = None

    @property
    def request_valid(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.request_findings)

    @property
    def response_valid(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.response_findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view; raw bytes as text when they decode, base64 otherwise."""

        def raw(data: bytes | None) -> dict[str, str] | None:
            if data is None:
                return None
            try:
                return {"text": data.decode("utf-8")}
            except UnicodeDecodeError:
                return {"base64": base64.b64encode(data).decode("ascii")}

        return {
            "id": self.id,
            "interface": self.interface,
            "transport": self.transport,
            "direction": self.direction,
            "operation": self.operation,
            "started": self.started,
            "duration_ms": round(self.duration_ms, 3),
            "peer": self.peer,
            "status": self.status,
            "fault": self.fault,
            "meta": self.meta,
            "request_raw": raw(self.request_raw),
            "request": self.request,
            "request_findings": [f.to_dict() for f in self.request_findings],
            "response_raw": raw(self.response_raw),
            "response": self.response,
            "response_findings": [f.to_dict() for f in self.response_findings],
            **({"request_truncated": self.request_truncated.to_dict()} if self.request_truncated else {}),
            **({"response_truncated": self.response_truncated.to_dict()} if self.response_truncated else {}),
        }


def _capped(findings: list[Finding], side: str) -> list[Finding]:
    """At most MAX_FINDINGS findings, each message clipped (a validator may quote a whole oversized value)."""
    if not findings or (len(findings) <= MAX_FINDINGS and all(len(f.message) <= MAX_MESSAGE for f in findings)):
        return findings  # the common case, on every exchange: nothing to copy
    kept = [f if len(f.message) <= MAX_MESSAGE else replace(f, message=clip(f.message)) for f in findings[:MAX_FINDINGS]]
    if len(findings) > MAX_FINDINGS:
        kept.append(Finding(Severity.INFO, "", f"{len(findings) - MAX_FINDINGS} more {side} findings not kept in the journal",
                            "journal"))
    return kept


class Journal:
    """A bounded, thread-safe record of exchanges: the newest `capacity` entries within `max_bytes` are kept, older
    ones counted as dropped; bodies over `entry_bytes` are kept truncated (see the module's docstring)."""

    def __init__(self, capacity: int = 10_000, max_bytes: int = DEFAULT_MAX_BYTES,
                 entry_bytes: int = DEFAULT_ENTRY_BYTES) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.entry_bytes = entry_bytes
        self._entries: deque[Exchange] = deque()
        self._costs: deque[int] = deque()
        self._lock = threading.Lock()
        self._next = 1
        self.dropped = 0
        self.bytes = 0
        """The estimated bytes the kept entries hold."""
        self.listener: Callable[[Exchange], None] | None = None
        """Told of each exchange once it is recorded, outside the lock (a training drill follows the hospital)."""

    def _trim(self, exchange: Exchange) -> int:
        """Truncate what is too large to keep; the entry's cost in bytes."""
        raw = exchange.request_raw
        if len(raw) > self.entry_bytes:
            exchange.request_truncated = Truncated(len(raw), hashlib.sha256(raw).hexdigest())
            exchange.request_raw = raw[:KEPT_HEAD]
            exchange.request = None
        reply = exchange.response_raw
        if reply is not None and len(reply) > self.entry_bytes:
            exchange.response_truncated = Truncated(len(reply), hashlib.sha256(reply).hexdigest())
            exchange.response_raw = reply[:KEPT_HEAD]
            exchange.response = None
        exchange.request_findings = _capped(exchange.request_findings, "request")
        exchange.response_findings = _capped(exchange.response_findings, "response")
        kept = len(exchange.request_raw or b"") + len(exchange.response_raw or b"")
        return ENTRY_OVERHEAD + RAW_WEIGHT * kept

    def record(self, exchange: Exchange) -> Exchange:
        cost = self._trim(exchange)
        with self._lock:
            exchange.id = self._next
            self._next += 1
            self._entries.append(exchange)
            self._costs.append(cost)
            self.bytes += cost
            while len(self._entries) > self.capacity or (self.bytes > self.max_bytes and len(self._entries) > 1):
                self._entries.popleft()
                self.bytes -= self._costs.popleft()
                self.dropped += 1
        if self.listener is not None:
            self.listener(exchange)
        return exchange

    def entries(
        self, operation: str | None = None, predicate: Callable[[Exchange], bool] | None = None
    ) -> list[Exchange]:
        with self._lock:
            items = list(self._entries)
        if operation is not None:
            items = [e for e in items if e.operation == operation]
        if predicate is not None:
            items = [e for e in items if predicate(e)]
        return items

    def last(self, operation: str | None = None) -> Exchange | None:
        items = self.entries(operation)
        return items[-1] if items else None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._costs.clear()
            self.bytes = 0
            self.dropped = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def last_id(self) -> int:
        """The id of the newest exchange ever recorded (0 before the first); it keeps counting across `clear`."""
        return self._next - 1
