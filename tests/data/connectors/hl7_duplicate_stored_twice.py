"""A defective LIS/PACS connector planted for hih's own runner tests: its listener does not look for a message
it already stored (sender + MSH-10), so a resent result is stored a second time and gets a fresh ACK."""

from __future__ import annotations

import sqlite3
from typing import Any

from connectors.hl7_common import SCHEMA
from connectors.lis import LisConnector
from connectors.pacs import PacsConnector
from harness.ports.hl7 import Hl7Settings


class _NoDuplicateCheck:
    store: Any

    def __init__(self, settings: Hl7Settings) -> None:
        super().__init__(settings)  # type: ignore[call-arg]
        db = sqlite3.connect(str(self.store.path))
        db.execute("DROP TABLE received")
        db.execute(SCHEMA.replace(",\n    UNIQUE (sender, control_id))", ")"))  # no unique key either
        db.commit()
        db.close()
        self.store.ack_of = lambda sender, control_id: None


class Lis(_NoDuplicateCheck, LisConnector):
    pass


class Pacs(_NoDuplicateCheck, PacsConnector):
    pass


def make_lis(settings: Hl7Settings) -> Any:
    return Lis(settings)


def make_pacs(settings: Hl7Settings) -> Any:
    return Pacs(settings)
