"""The journal: every exchange that crosses a mock, with raw bytes, parsed form, findings and the fault applied."""

from __future__ import annotations

import base64
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.contract.findings import Finding, Severity


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
        }


class Journal:
    """A bounded, thread-safe record of exchanges: the newest `capacity` are kept, older ones counted as dropped."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: deque[Exchange] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._next = 1
        self.dropped = 0

    def record(self, exchange: Exchange) -> Exchange:
        with self._lock:
            exchange.id = self._next
            self._next += 1
            if len(self._entries) == self._entries.maxlen:
                self.dropped += 1
            self._entries.append(exchange)
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
            self.dropped = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
