"""The LIS port: what a hospital's HIS does with the laboratory information system over HL7 v2 and MLLP.

Outbound (HIS -> LIS): patients (ADT^A01/A04/A08) and laboratory orders, new and cancelled (OML^O21 from contract
2024.1, ORM^O01 before), each checked against its acknowledgement. Inbound (LIS -> HIS): results (ORU^R01,
preliminary, final, corrected; critical values flagged in OBX-8) arrive at the connector's listener, which stores
each one durably before it acknowledges it and never stores the same message twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

__all__ = ["AckError", "AckRejected", "Delivery", "Hl7PortError", "Hl7Settings", "LabOrder", "LisPort", "NoAck",
           "OrderAck", "Patient", "StoredMessage", "WrongAck"]


@dataclass(frozen=True)
class LabOrder:
    """One laboratory request: the placer order number (ORC-2/OBR-2), the tests, the specimen."""

    placer_no: str
    patient: Patient
    tests: tuple[tuple[str, str], ...] = (("CBC", "血常规"),)
    """(code, name) of each requested test (OBR-4)."""
    specimen: str = "BLD"
    priority: str = "R"
    doctor: tuple[str, str] = ("D001", "李医生")
    specimen_id: str = ""


@dataclass(frozen=True)
class OrderAck:
    """The LIS's answer to an order (ORL^O22 / ORR^O02): MSA-1, ORC-1 (OK, UA, CR, UC) and the filler number."""

    control_id: str
    code: str
    order_control: str
    filler_no: str = ""
    attempts: int = 1
    text: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """The LIS took the request (new order accepted, or cancelled as requested)."""
        return self.code == "AA" and self.order_control in ("OK", "CR")


@runtime_checkable
class LisPort(Protocol):
    """The operations of a hospital's LIS connector."""

    def send_patient(self, patient: Patient, event: str = "A01", charset: str | None = None) -> Delivery:
        """ADT^A01 (admit), A04 (register an outpatient) or A08 (update).

        `charset` (every sending operation): the Table 0211 character set the message is encoded in and declares
        in MSH-18; default the contract's.
        """
        ...

    def place_order(self, order: LabOrder, charset: str | None = None) -> OrderAck: ...

    def cancel_order(self, order: LabOrder, charset: str | None = None) -> OrderAck: ...

    def place_orders(self, orders: list[LabOrder], charset: str | None = None) -> list[OrderAck]:
        """Several orders in one FHS/BHS batch, answered by one batch acknowledgement."""
        ...

    def listener(self) -> tuple[str, int]:
        """Where the connector receives results (host, port)."""
        ...

    def stored_results(self) -> list[StoredMessage]:
        """Every result the listener has stored, oldest first, read from its durable store."""
        ...

    def close(self) -> None: ...
