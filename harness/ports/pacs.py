"""The PACS port: what a hospital's HIS does with the PACS/RIS over HL7 v2 and MLLP.

Outbound (HIS -> PACS): imaging orders, new and cancelled, as ORM^O01 (HL7 v2.4) or OMI^O23 (v2.5.1, with IPC).
Inbound (PACS -> HIS): status updates (OMG^O19, ORC-5) and reports (ORU^R01, preliminary then final or corrected,
findings and impression as text) arrive at the connector's listener, stored durably before they are acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from harness.ports.hl7 import (
    AckError,
    AckRejected,
    Delivery,
    Hl7PortError,
    Hl7Settings,
    NoAck,
    Patient,
    StoredMessage,
    WrongAck,
)

__all__ = ["AckError", "AckRejected", "Delivery", "Hl7PortError", "Hl7Settings", "ImagingOrder", "NoAck",
           "PacsPort", "Patient", "StoredMessage", "WrongAck"]


@dataclass(frozen=True)
class ImagingOrder:
    """One imaging request: placer number, the procedure, modality, accession number and Study Instance UID."""

    placer_no: str
    patient: Patient
    procedure: tuple[str, str] = ("CT001", "胸部CT平扫")
    modality: str = "CT"
    accession_no: str = ""
    study_uid: str = ""
    reason: str = "咳嗽两周"
    doctor: tuple[str, str] = ("D001", "李医生")
    priority: str = "R"


@runtime_checkable
class PacsPort(Protocol):
    """The operations of a hospital's PACS/RIS connector."""

    def place_order(self, order: ImagingOrder, version: str = "2.5.1", charset: str | None = None) -> Delivery:
        """OMI^O23 (v2.5.1) or ORM^O01 (v2.4); `charset` as for the LIS port (default the contract's)."""
        ...

    def cancel_order(self, order: ImagingOrder, version: str = "2.5.1", charset: str | None = None) -> Delivery: ...

    def place_orders(self, orders: list[ImagingOrder], version: str = "2.5.1",
                     charset: str | None = None) -> list[Delivery]:
        """Several orders in one FHS/BHS batch."""
        ...

    def listener(self) -> tuple[str, int]: ...

    def stored_reports(self) -> list[StoredMessage]:
        """ORU^R01 reports stored by the listener, oldest first."""
        ...

    def stored_statuses(self) -> list[StoredMessage]:
        """OMG^O19 status updates stored by the listener, oldest first."""
        ...

    def close(self) -> None: ...
