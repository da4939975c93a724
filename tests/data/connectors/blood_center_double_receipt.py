"""A defective blood-centre connector planted for hih's own runner tests: it does not look at what it already
received and confirms the same issue note again when the bags are scanned twice."""

from __future__ import annotations

from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings


class DoubleReceipt(BloodCenterConnector):
    def _already_received(self, dins: list[str]) -> list[str]:
        return []


def make(settings: BloodCenterSettings) -> Any:
    return DoubleReceipt(settings)
