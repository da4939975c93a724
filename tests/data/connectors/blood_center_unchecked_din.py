"""A defective blood-centre connector planted for hih's own runner tests: it confirms every scanned DIN without
checking its ISBT 128 check flag, so a misread bag number reaches the centre."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import (
    AlreadyReceived,
    BloodCenterSettings,
    Discrepancy,
    IssueNote,
    Receipt,
    ScannedBag,
)


class UncheckedDin(BloodCenterConnector):
    def receive(self, issue: IssueNote, scanned: list[ScannedBag]) -> Receipt:
        again = [bag.din for bag in scanned if bag.din in self.received]
        if again:
            raise AlreadyReceived(f"already received: {', '.join(again)}")
        units = [{"din": bag.din, "abo": bag.abo, "rhd": bag.rhd, "condition": "DAMAGED" if bag.damaged else "INTACT"}
                 for bag in scanned]
        reply = self._call("ConfirmReceipt", issueNo=issue.issue_no, receivedAt=datetime.now().replace(microsecond=0),
                           receivedBy="输血科", unit=units)
        for bag in scanned:
            self.received[bag.din] = issue.issue_no
        return Receipt(reply.receiptNo, int(reply.accepted or 0),
                       tuple(Discrepancy(d.din, d.type, d.note) for d in reply.discrepancy))


def make(settings: BloodCenterSettings) -> Any:
    return UncheckedDin(settings)
