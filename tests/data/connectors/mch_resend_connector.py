"""A defective maternal-child connector planted for hih's own runner tests: after a lost reply it sends the record
again without asking the platform whether the first upload arrived (the record is uploaded twice)."""

from __future__ import annotations

from typing import Any

from connectors.mch_platform import MchPlatformConnector, OutboxRow
from harness.ports.mch_platform import MchSettings


class ResendBlindly(MchPlatformConnector):
    def _recover(self, rows: list[OutboxRow]) -> None:
        self.outbox.mark([r.serial for r in rows], "queued")


def make(settings: MchSettings) -> Any:
    return ResendBlindly(settings)
