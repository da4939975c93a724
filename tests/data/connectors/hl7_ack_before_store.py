"""A defective LIS/PACS connector planted for hih's own runner tests: its listener acknowledges a result as soon as
it is valid and leaves the storing to a writer queue that never gets flushed (the process "crashes" first), so
an acknowledged result is lost."""

from __future__ import annotations

from typing import Any

from connectors.lis import LisConnector
from connectors.pacs import PacsConnector
from harness.contract.hl7.message import Message
from harness.ports.hl7 import Hl7Settings


class _AckBeforeStore:
    pending: list[bytes]

    def keep(self, msg: Message, key: str, raw: bytes, ack: bytes) -> None:
        self.pending = [*getattr(self, "pending", []), raw]  # queued, to be written "later"


class Lis(_AckBeforeStore, LisConnector):
    pass


class Pacs(_AckBeforeStore, PacsConnector):
    pass


def make_lis(settings: Hl7Settings) -> Any:
    return Lis(settings)


def make_pacs(settings: Hl7Settings) -> Any:
    return Pacs(settings)
