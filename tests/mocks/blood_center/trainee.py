"""A trainee at the hospital system during a drill: each step one or two calls of the reference connector over SOAP,
as a blood-bank module would make them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import (
    BloodOrder,
    IssueNote,
    Notice,
    OrderAck,
    OrderFeedback,
    OrderItem,
    Receipt,
    ReturnAck,
    ReturnStatus,
    ScannedBag,
    UnitFee,
)

UNITS = {"E0004": "mL", "E0005": "TQ"}


class Trainee:
    """Steps of the drills, against the centre the connector points at."""

    def __init__(self, hospital: BloodCenterConnector) -> None:
        self.hospital = hospital

    def order(self, number: str, lines: list[tuple[str, str, str, int]], urgency: str = "ROUTINE") -> OrderAck:
        items = tuple(OrderItem(n, product, abo, rhd, Decimal(quantity), UNITS.get(product, "U"))
                      for n, (product, abo, rhd, quantity) in enumerate(lines, 1))
        return self.hospital.submit_order(BloodOrder(number, urgency, datetime.now() + timedelta(hours=2), "输血科",
                                                     "王医生", items))

    def feedback(self, number: str) -> OrderFeedback:
        return self.hospital.order_feedback(number)

    def download(self, number: str) -> list[IssueNote]:
        return self.hospital.issue_notes(number)

    def receive(self, note: IssueNote) -> Receipt:
        return self.hospital.receive(note, [ScannedBag(u.din, u.abo, u.rhd) for u in note.units])

    def receive_order(self, number: str) -> tuple[IssueNote, Receipt]:
        notes = self.download(number)
        assert notes, f"no issue note for {number}"
        return notes[0], self.receive(notes[0])

    def recalls(self) -> list[Notice]:
        return [n for n in self.hospital.notices(datetime.now() - timedelta(days=2)) if n.kind == "RECALL"]

    def give_back(self, number: str, dins: list[str], reason: str) -> ReturnAck:
        return self.hospital.submit_return(number, dins, reason, "训练")

    def return_status(self, number: str) -> ReturnStatus:
        return self.hospital.return_status(number)

    def fees(self) -> list[UnitFee]:
        today = date.today()
        return self.hospital.unit_fees(today - timedelta(days=1), today + timedelta(days=1))
