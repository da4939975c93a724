"""Faults a mock injects on purpose, set per scenario from Python or over the admin API."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from harness.errors import UsageError

KINDS = {
    "latency": "answer normally after delay_s seconds",
    "no_reply": "never answer; hold the connection until the client gives up",
    "reset": "reset the TCP connection instead of answering",
    "http_status": "answer with HTTP `status` (5xx) and a gateway error body",
    "error_reply": "answer with the protocol's error reply (infcode -1, SOAP Fault, HL7 AE/AR) carrying `message`",
    "malformed": "answer with a body cut in half (not parseable)",
    # HL7 v2 over MLLP only
    "split_frames": "send the reply frame in several TCP writes",
    "merged_frames": "when frames arrive pipelined, send this ACK in one write with the next one",
    "wrong_ack_id": "answer with an ACK whose MSA-2 does not echo MSH-10",
    "duplicate_ack": "send the ACK twice",
    "late_ack": "send the ACK after delay_s seconds",
    "garbage": "send bytes before the start block",
    # the partner itself, not one exchange
    "clock": "shift the partner's clock by `shift_s` seconds (negative: behind); stays until cleared",
    "refuse": "refuse connections: nothing listens on the partner's port (a connect gets RST, 'connection refused') "
              "and open connections are closed, for `window_s` seconds (0: until cleared); for the whole port",
}
PASSIVE = frozenset({"clock", "refuse"})
"""Kinds that change the partner rather than an exchange: never taken by the transports."""
PHASES = ("before", "after")
MAX_FIRED = 1_000
"""The fired faults a plan remembers (the newest)."""
_TYPE_NAMES = {"kind": "string", "operation": "string or null", "times": "whole number or null", "phase": "string",
               "delay_s": "number", "status": "whole number", "message": "string", "code": "string",
               "window_s": "number"}


@dataclass
class Fault:
    """One fault rule. `operation` None matches every operation; `times` None fires forever.

    `phase` says whether the mock processes the request first (after: state changes, reply lost) or not (before).
    """

    kind: str
    operation: str | None = None
    times: int | None = 1
    phase: str = "after"
    delay_s: float = 0.0
    status: int = 503
    message: str = ""
    code: str = ""
    shift_s: float = 0.0
    window_s: float = 0.0
    """`refuse`: how long nothing listens (0: until the fault is cleared)."""

    def __post_init__(self) -> None:
        # from the admin API the values are whatever JSON a caller sent: check their types before their ranges
        for name, wanted in (("kind", str), ("operation", (str, type(None))), ("times", (int, type(None))),
                             ("phase", str), ("delay_s", (int, float)), ("status", int), ("message", str), ("code", str),
                             ("window_s", (int, float))):
            value = getattr(self, name)
            if not isinstance(value, wanted) or isinstance(value, bool):
                raise UsageError(f"bad fault: {name} {value!r:.40} is not a {_TYPE_NAMES[name]}")
        if not math.isfinite(self.delay_s):
            raise UsageError(f"fault delay_s must be between 0 and 3600, not {self.delay_s}")
        if self.kind not in KINDS:
            raise UsageError(f"unknown fault kind {self.kind!r} (known: {', '.join(KINDS)})")
        if self.phase not in PHASES:
            raise UsageError(f"fault phase must be 'before' or 'after', not {self.phase!r}")
        if self.times is not None and self.times < 1:
            raise UsageError(f"fault times must be at least 1 (or null for always), not {self.times}")
        if self.delay_s < 0 or self.delay_s > 3600:
            raise UsageError(f"fault delay_s must be between 0 and 3600, not {self.delay_s}")
        if abs(self.shift_s) > 7 * 86400:
            raise UsageError(f"fault shift_s must be within a week either way, not {self.shift_s}")
        if not math.isfinite(self.window_s) or not 0 <= self.window_s <= 3600:
            raise UsageError(f"fault window_s must be between 0 and 3600, not {self.window_s}")
        if self.kind == "refuse" and self.operation is not None:
            raise UsageError("a refuse fault is for the whole port (connections are refused before any operation "
                             "is known): leave out operation")
        if self.kind == "http_status" and not 400 <= self.status <= 599:
            raise UsageError(f"http_status fault needs a 4xx or 5xx status, not {self.status}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"unknown fault field(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if "kind" not in data:
            raise UsageError("a fault needs a kind")
        try:
            return cls(**data)
        except TypeError as exc:
            raise UsageError(f"bad fault: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """The faults armed on one mock; the first one matching an exchange fires and is used up."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: list[Fault] = []
        self.families: dict[str, str] = {}
        """Operation -> the one it is a form of (`2207A` -> `2207`): a fault armed for the one fires on both."""
        self._watchers: list[Callable[[], None]] = []

    def watch(self, changed: Callable[[], None]) -> None:
        """Call `changed()` (outside the plan's lock) whenever faults are armed, cleared or discarded."""
        self._watchers.append(changed)

    def _changed(self) -> None:
        for changed in self._watchers:
            changed()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        self._changed()
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.fired.clear()
        self._changed()

    def discard(self, fault: Fault) -> None:
        """Take one armed fault away (a `refuse` fault whose window is over)."""
        with self._lock:
            self._faults[:] = [f for f in self._faults if f is not fault]
        self._changed()

    def refusing(self) -> Fault | None:
        """The armed `refuse` fault, if any: the port is to refuse connections while it is armed."""
        with self._lock:
            return next((f for f in self._faults if f.kind == "refuse"), None)

    def mark_fired(self, fault: Fault) -> None:
        """Count a fault the plan did not hand out itself as fired (a refusal that took effect)."""
        with self._lock:
            self.fired.append(fault)
            del self.fired[:-MAX_FIRED]

    def busy(self) -> bool:
        """Whether any fault is armed (passive ones included): read without the lock, on every exchange."""
        return bool(self._faults)

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, operation: str | None) -> Fault | None:
        """The fault for this exchange, if any, counting it as fired."""
        with self._lock:
            if not self._faults:
                return None
            family = self.families.get(operation) if operation is not None else None
            for fault in self._faults:
                if fault.kind in PASSIVE:
                    continue
                if fault.operation is None or fault.operation == operation or fault.operation == family:
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            self._faults.remove(fault)
                    self.fired.append(fault)
                    if len(self.fired) > MAX_FIRED:  # a fault armed for good fires on every exchange
                        del self.fired[:-MAX_FIRED]
                    return fault
        return None

    def clock_shift_s(self) -> float:
        """How far the partner's clock is off real time: the sum of the armed `clock` faults."""
        if not self._faults:  # the common case, several times per exchange: no lock needed to see an empty list
            return 0.0
        with self._lock:
            return sum(f.shift_s for f in self._faults if f.kind == "clock")


async def wait_at_least(delay_s: float) -> None:
    """Wait at least `delay_s` seconds: uvloop's timers may fire up to a millisecond early, and a latency fault
    that answers in 249.6 ms where 250 ms was asked breaks the timeouts it is there to test."""
    end = time.monotonic() + delay_s
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(left)
