"""A defective blood-centre connector planted for hih's own runner tests: it confirms every scanned DIN without
checking its ISBT 128 check flag, so a misread bag number reaches the centre."""

from __future__ import annotations

from typing import Any

from connectors.blood_center import BloodCenterConnector
from harness.ports.blood_center import BloodCenterSettings, ScannedBag


class UncheckedDin(BloodCenterConnector):
    @staticmethod
    def _din_problems(scanned: list[ScannedBag]) -> dict[str, str]:
        return {}


def make(settings: BloodCenterSettings) -> Any:
    return UncheckedDin(settings)
