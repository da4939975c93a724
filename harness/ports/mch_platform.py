"""The maternal-child platform port: what a hospital's 妇幼 system does with the provincial platform.

A connector (the reference one, or a hospital's adapter) implements `MchPlatformPort`. Records are given as the
hospital's data (`HospitalRecord`: a record type, its record number and the values by element name); the connector
builds the XML, checks it before sending, uploads it through an outbox that survives crashes, and reports what the
platform answered per record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.errors import HihError


@dataclass(frozen=True)
class MchSettings:
    """What a connector needs to reach the platform; the runner fills it from the mock and the contract."""

    wsdl_url: str
    org_code: str
    password: str
    outbox_path: str
    org_name: str = "示例市妇幼保健院"
    timeout_s: float = 5.0
    contract_version: str = ""
    contract_folder: str = ""
    remove_outbox_on_close: bool = False
    """The runner's per-scenario outboxes live in a temporary folder removed with the connector."""

    def __repr__(self) -> str:  # never show the password
        return f"MchSettings(wsdl_url={self.wsdl_url!r}, org_code={self.org_code!r}, outbox_path={self.outbox_path!r})"


@dataclass(frozen=True)
class HospitalRecord:
    """One record as the hospital's system holds it.

    `data` maps element names of the record type's XSD to values (str, int, Decimal, date, datetime, bool); a nested
    element is a dict, a repeated one a list. Header values (record number, serial, organisation, report date,
    operation) are filled by the connector. Names the contract version does not know are left out.
    """

    record_type: str
    record_no: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RecordError:
    code: str
    location: str
    message: str


@dataclass(frozen=True)
class UploadResult:
    """The platform's answer for one record: ACCEPTED (it now waits for audit) or REJECTED with errors."""

    record_type: str
    record_no: str
    status: str
    record_id: str | None = None
    version: int | None = None
    errors: tuple[RecordError, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.status == "ACCEPTED"


@dataclass(frozen=True)
class AuditResult:
    record_id: str
    record_type: str
    record_no: str
    status: str
    """PENDING, PASSED, RETURNED (for correction) or WITHDRAWN."""
    version: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """A problem found before sending: where in the record and what."""

    location: str
    message: str
    rule: str = ""


# -- errors the steps see ---------------------------------------------------------------------------------------
class MchError(HihError):
    """Base of the port's errors."""


class InvalidRecord(MchError):
    """The record breaks the contract (XSD, ID check character, dates, deadline); nothing was sent."""

    def __init__(self, message: str, findings: list[Finding]) -> None:
        super().__init__(message)
        self.findings = findings


class AuthFailed(MchError):
    """Login was refused (wrong organisation code or password)."""


class Refused(MchError):
    """The platform answered with a failure code (e.g. 4001 no such record, 4002 already withdrawn)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class Unavailable(MchError):
    """The platform could not be reached or did not answer; queued records stay in the outbox for `flush()`."""


@dataclass
class Session:
    key: str
    expires_in: int
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MchPlatformPort(Protocol):
    def login(self) -> Session: ...

    def build(self, record: HospitalRecord, correction: str | None = None) -> bytes:
        """The record's XML as it would be sent (checked: raises InvalidRecord)."""
        ...

    def upload(self, record: HospitalRecord) -> UploadResult: ...

    def upload_batch(self, records: list[HospitalRecord]) -> list[UploadResult]:
        """Up to 100 records of one type; checks each first (InvalidRecord names the first bad one, nothing sent)."""
        ...

    def correct(self, record: HospitalRecord, reason: str) -> UploadResult:
        """Upload a declared correction (operation 2) of a record already on the platform."""
        ...

    def query(self, record_id: str) -> AuditResult: ...

    def withdraw(self, record_id: str, reason: str) -> str:
        """Void a record uploaded in error; the platform's status for it (WITHDRAWN)."""
        ...

    def flush(self) -> list[UploadResult]:
        """Settle the outbox: confirm records whose reply was lost, send those still queued."""
        ...

    def pending(self) -> int:
        """Records in the outbox without a final answer."""
        ...

    def close(self) -> None: ...


def settings_for(mock: Any, contract: Any, timeout_s: float, workdir: Path | None = None) -> MchSettings:
    """The settings for a connector to the started platform mock `mock` (the interface descriptor's `settings`):
    its WSDL, an organisation it knows, the outbox in the scenario's work folder (else a temporary one removed on
    close)."""
    import tempfile

    org_code, password = next(iter(mock.credentials.items()))
    folder = workdir or Path(tempfile.mkdtemp(prefix="hih-mch-outbox-"))
    return MchSettings(wsdl_url=f"{mock.service_url}?wsdl", org_code=org_code, password=password,
                       outbox_path=str(folder / "outbox.sqlite"), timeout_s=timeout_s, contract_version=contract.version,
                       contract_folder=str(contract.folder), remove_outbox_on_close=workdir is None)
