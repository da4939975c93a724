"""A defective blood-centre connector planted for hih's own runner tests: it forgets what it already received and
confirms the same issue note again when the bags are scanned twice."""

from __future__ import annotations

from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings, IssueNote, Receipt, ScannedBag


class DoubleReceipt(BloodCenterConnector):
    def receive(self, issue: IssueNote, scanned: list[ScannedBag]) -> Receipt:
        self.received.clear()
        return super().receive(issue, scanned)


def make(settings: BloodCenterSettings) -> Any:
    return DoubleReceipt(settings)
