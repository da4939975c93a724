"""A planted insurance connector that cannot be interrupted: its person query swallows every exception (also the
deadline's) and keeps waiting. Only ending its process stops it."""

from __future__ import annotations

import time
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Person


class StuckConnector(InsuranceConnector):
    def query_person(self, cert: Certificate) -> Person:
        while True:
            try:
                time.sleep(0.05)
            except BaseException:  # noqa: BLE001, S110 - the defect under test: nothing stops this loop
                pass


def make(settings: InsuranceSettings) -> Any:
    return StuckConnector(settings)
