"""A defective blood-centre connector planted for hih's own runner tests: it asks to return bags without checking
that the hospital ever received them."""

from __future__ import annotations

from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings


class ReturnUnreceived(BloodCenterConnector):
    def _not_received(self, dins: list[str]) -> list[str]:
        return []


def make(settings: BloodCenterSettings) -> Any:
    return ReturnUnreceived(settings)
