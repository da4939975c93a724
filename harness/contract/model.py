"""Typed model of a loaded contract: common metadata plus what each transport needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CodeTable:
    """A value set: code -> meaning (e.g. mdtrt_cert_type 03 -> 社会保障卡)."""

    name: str
    title: str
    values: dict[str, str]


@dataclass(frozen=True)
class Format:
    """A named identifier or time format, e.g. msgid or refmsg_time."""

    name: str
    pattern: str
    description: str = ""

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class Rule:
    """A cross-field rule the JSON schemas cannot say, checked on each message (see rules.py)."""

    id: str
    kind: str
    where: str
    applies_to: tuple[str, ...]
    params: dict[str, Any]
    message: str = ""


@dataclass(frozen=True)
class Operation:
    """One transaction / operation / message type of an interface.

    `key` is what selects it on the wire: the infno for insurance, the SOAP operation name, the HL7 MSH-9 trigger.
    """

    key: str
    name: str
    name_en: str = ""
    kind: str = "write"
    idempotent: bool = False
    input_schema: str | None = None
    output_schema: str | None = None
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Signing:
    """The request-signing scheme in force (e.g. TIF gateway headers)."""

    scheme: str
    headers: dict[str, str]
    algorithm: str = ""
    max_skew_s: int = 300


@dataclass(frozen=True)
class Limits:
    """Input limits the mocks enforce for this interface (contract.yaml `limits:`); None: the transport's default.

    `max_body_bytes` bounds a request body, `max_depth` the nesting of its JSON or XML, `max_headers` and
    `max_header_bytes` the request line and headers (count, and bytes in all).
    """

    max_body_bytes: int | None = None
    max_depth: int | None = None
    max_headers: int | None = None
    max_header_bytes: int | None = None


@dataclass(frozen=True)
class ClockStamp:
    """Where a message shows the sender's clock, and how to read it (see `harness.contract.clock`)."""

    at: str
    """A JSON pointer (`/inf_time`), an HL7 field (`MSH-7`) or an XML element's local name (`receivedAt`)."""
    format: str
    """A strptime format, `hl7` (DTM, to the second or coarser) or `iso` (xs:dateTime or xs:date)."""
    chars: tuple[int, int] | None = None
    """A slice of the value holding the time, for an identifier with a time part (the msgid's characters 12-26)."""
    operations: tuple[str, ...] = ()
    """The operations it applies to; empty: every message that carries it."""


@dataclass(frozen=True)
class ClockSkew:
    """The contract's `clock_skew` rule: the sender's clock, as its timestamps show it, within `max_s` of the
    receiver's at receipt. A date without a time passes when it is the receiver's date within that margin."""

    max_s: float
    stamps: tuple[ClockStamp, ...]


@dataclass(frozen=True)
class Sla:
    """A response time the partner's users are promised: `transaction`'s `percentile` latency at most `max_ms`
    while it runs at `at_rate` a second or more, with at most `max_errors_pct` of its calls failing (`hih load`)."""

    transaction: str
    percentile: float
    max_ms: float
    at_rate: float
    max_errors_pct: float = 0.0
    note: str = ""

    @property
    def label(self) -> str:
        shown = "max" if self.percentile >= 100 else f"p{self.percentile:g}"
        return f"{self.transaction} {shown} <= {self.max_ms:g} ms at {self.at_rate:g}/s"


@dataclass(frozen=True)
class HttpSettings:
    base_path: str
    single_endpoint: str | None = None
    content_type: str = "application/json;charset=utf-8"


@dataclass
class Contract:
    """A versioned, machine-readable description of one interface, loaded from `<interface>/<version>/`."""

    interface: str
    version: str
    title: str
    transport: str
    folder: Path
    title_en: str = ""
    released: str = ""
    effective: str = ""
    """In force from this day (YYYY-MM-DD); `released` when empty."""
    supersedes: str | None = None
    document: str = ""
    operations: dict[str, Operation] = field(default_factory=dict)
    code_tables: dict[str, CodeTable] = field(default_factory=dict)
    formats: dict[str, Format] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    http: HttpSettings | None = None
    signing: Signing | None = None
    envelope: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    clock_skew: ClockSkew | None = None
    sla: tuple[Sla, ...] = ()
    """Response times under load (contract.yaml `sla:`), checked by `hih load`."""
    volatile: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`volatile:` of contract.yaml: operation (or `*`, every one) -> field patterns that differ on every exchange by
    design (ids and times made afresh); replay and `hih compare` ignore them (`harness.contract.volatile`)."""
    correlation: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """`correlation:` of contract.yaml: operation -> the fields that say which business object a request is about;
    replay answers a request whose other fields changed by the recorded exchange these fields match."""
    schemas: dict[str, Any] = field(default_factory=dict)
    """Every schema document by its path relative to the folder (JSON Schema dicts, XSD trees, HL7 profiles)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.interface}@{self.version}"

    def operation(self, key: str) -> Operation | None:
        return self.operations.get(key)

    def operation_for_path(self, path: str) -> Operation | None:
        """The operation served at an HTTP path relative to the base path (leading slash optional)."""
        wanted = path.strip("/")
        for op in self.operations.values():
            if op.path.strip("/") == wanted:
                return op
        return None
