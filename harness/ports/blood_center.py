"""The blood-centre port: what a hospital's blood-bank system does with the regional blood centre.

A connector (the reference one over zeep, or a hospital's adapter) implements `BloodCenterPort`; specs drive it and
check what it returns and what reached the centre. Scanning received bags checks each DIN's ISBT 128 check flag
on the hospital side; a bag past its expiry when scanned is refused (not confirmed, an EXPIRED discrepancy); a bag
is received once, and only a received bag can be returned. What the hospital received and returned is durable: a
restarted connector knows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.errors import HihError


@dataclass(frozen=True)
class BloodCenterSettings:
    """What a connector needs to reach the centre; the runner fills it from the mock and the contract."""

    wsdl_url: str
    hospital_code: str
    token: str
    timeout_s: float = 5.0
    contract_folder: str = ""
    """The contract's folder: replies are validated strictly against its XSD (zeep alone is lenient)."""
    retries: int = 2
    """Resends of an idempotent operation after a lost reply or a Server fault."""
    received_by: str = "输血科"
    store_path: str = ""
    """The SQLite file of the blood bank's stock and returns ("" : a private temporary file, gone on close)."""

    def __repr__(self) -> str:  # never show the token
        return f"BloodCenterSettings(wsdl_url={self.wsdl_url!r}, hospital_code={self.hospital_code!r})"


# -- what the hospital sends -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderItem:
    line_no: int
    product_code: str
    abo: str
    rhd: str
    quantity: Decimal
    unit: str


@dataclass(frozen=True)
class BloodOrder:
    order_no: str
    urgency: str
    wanted_at: datetime
    department: str
    ordered_by: str
    items: tuple[OrderItem, ...]
    remark: str | None = None


@dataclass(frozen=True)
class ScannedBag:
    """What the bar-code scanner read off one bag at receipt (DIN and group label) and how it looked."""

    din: str
    abo: str
    rhd: str
    damaged: bool = False


# -- what the centre answers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderAck:
    order_no: str
    status: str
    received_at: datetime | None


@dataclass(frozen=True)
class FeedbackItem:
    line_no: int
    product_code: str
    abo: str
    rhd: str
    requested: Decimal
    confirmed: Decimal
    unit: str
    reason: str | None


@dataclass(frozen=True)
class OrderFeedback:
    order_no: str
    status: str
    updated_at: datetime
    reason: str | None
    items: tuple[FeedbackItem, ...]


@dataclass(frozen=True)
class IssuedUnit:
    din: str
    product_code: str
    product_name: str
    abo: str
    rhd: str
    volume: int
    collected_on: date
    expires_at: datetime
    price: Decimal


@dataclass(frozen=True)
class IssueNote:
    issue_no: str
    order_no: str
    issued_at: datetime
    units: tuple[IssuedUnit, ...]


@dataclass(frozen=True)
class Discrepancy:
    din: str
    kind: str
    """MISSING, EXTRA, DAMAGED, WRONG_GROUP or INVALID_DIN (as the centre reports them), or EXPIRED: refused by the
    hospital at receipt because its expiry had passed (not sent: the centre sees the bag MISSING)."""
    note: str | None = None


@dataclass(frozen=True)
class Receipt:
    receipt_no: str
    accepted: int
    discrepancies: tuple[Discrepancy, ...]


@dataclass(frozen=True)
class StoredBag:
    """What the hospital's blood bank recorded for a bag it received (its stock card), as it will use it: the
    safety fields of the issue note, kept so that a nurse, a cross-match or a restarted system reads them from the
    hospital's own store, not from the centre."""

    din: str
    issue_no: str
    product_code: str
    abo: str
    rhd: str
    volume: int
    collected_on: date | None
    """None only for a bag received that was not on its issue note (nothing to take it from)."""
    expires_at: datetime | None
    """Local time without an offset, as `datetime.now()` gives it (None as `collected_on`)."""


@dataclass(frozen=True)
class ReturnAck:
    return_no: str
    status: str


@dataclass(frozen=True)
class ReturnStatus:
    return_no: str
    status: str
    reason: str | None
    decided_at: datetime | None
    dins: tuple[str, ...]


@dataclass(frozen=True)
class CrossmatchUnit:
    din: str
    compatible: bool
    method: str


@dataclass(frozen=True)
class CrossmatchSample:
    sample_no: str
    patient_id: str
    patient_name: str
    abo: str
    rhd: str
    antibody_screen: str
    antibody: str | None
    conclusion: str
    reported_at: datetime
    units: tuple[CrossmatchUnit, ...] = ()


@dataclass(frozen=True)
class UnitFee:
    issue_no: str
    din: str
    product_code: str
    volume: int
    price: Decimal
    issued_at: datetime


@dataclass(frozen=True)
class FeeReconciliation:
    """The centre's bill for a period against the bags the hospital received."""

    fees: tuple[UnitFee, ...]
    total: Decimal
    matched: tuple[str, ...]
    charged_not_received: tuple[str, ...]
    received_not_charged: tuple[str, ...]
    agreed: bool = field(default=False)


@dataclass(frozen=True)
class Notice:
    notice_id: str
    kind: str
    """SHORTAGE, RECALL or POLICY."""
    title: str
    content: str
    published_at: datetime
    dins: tuple[str, ...]


# -- errors ----------------------------------------------------------------------------------------------------
class BloodCenterError(HihError):
    """Anything the connector could not do; the kind says why."""


class Refused(BloodCenterError):
    """The centre answered with a failure ResultCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AuthRefused(BloodCenterError):
    """The centre refused the hospital code or token (SOAP Fault Client.Auth)."""


class InvalidInput(BloodCenterError):
    """The request would break the contract (or did: a Client fault); nothing was done."""


class Unavailable(BloodCenterError):
    """No usable answer (timeout, reset, HTTP error, Server fault, malformed reply) after the allowed retries."""


class BadReply(BloodCenterError):
    """The centre's reply breaks the contract."""


class NotReceived(BloodCenterError):
    """A bag the hospital never received (it cannot be returned)."""


class AlreadyReceived(BloodCenterError):
    """The bags were already received; a receipt is confirmed once."""


@runtime_checkable
class BloodCenterPort(Protocol):
    def submit_order(self, order: BloodOrder) -> OrderAck: ...
    def order_feedback(self, order_no: str) -> OrderFeedback: ...
    def cancel_order(self, order_no: str, reason: str) -> str: ...
    def issue_notes(self, order_no: str) -> list[IssueNote]: ...
    def receive(self, issue: IssueNote, scanned: list[ScannedBag]) -> Receipt:
        """Confirm the scanned bags; a bad DIN is INVALID_DIN and a bag past its expiry is EXPIRED, neither confirmed."""
        ...
    def stored_bag(self, din: str) -> StoredBag:
        """What the blood bank stored at receipt for a bag it confirmed received (product, ABO/Rh, volume,
        collection date, expiry), read back from its durable store; `NotReceived` for a bag it never received
        (refused at receipt, or unknown). A returned bag keeps its record."""
        ...
    def submit_return(self, return_no: str, dins: list[str], reason: str, remark: str | None = None) -> ReturnAck: ...
    def return_status(self, return_no: str) -> ReturnStatus: ...
    def crossmatch_results(self, sample_no: str | None = None, since: datetime | None = None) -> list[CrossmatchSample]: ...
    def unit_fees(self, start: date, end: date) -> list[UnitFee]: ...
    def reconcile_fees(self, start: date, end: date) -> FeeReconciliation:
        """The centre's bill against the bags in stock: received, less returns the centre approved."""
        ...
    def notices(self, since: datetime) -> list[Notice]: ...
    def recalled_in_stock(self, since: datetime) -> list[str]: ...
    def close(self) -> None: ...


def settings_for(mock: Any, contract: Any, timeout_s: float, workdir: Path | None = None) -> BloodCenterSettings:
    """The settings for a connector to the started blood-centre mock `mock` (the interface descriptor's
    `settings`): its WSDL, the hospital's registration, the blood bank's store in the scenario's work folder."""
    return BloodCenterSettings(wsdl_url=f"{mock.service_url}?wsdl", hospital_code=mock.hospital, token=mock.token,
                               timeout_s=timeout_s, contract_folder=str(contract.folder),
                               store_path=str(workdir / "blood-bank.sqlite") if workdir else "")
