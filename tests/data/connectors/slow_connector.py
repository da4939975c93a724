"""A planted insurance connector that takes its time: each person query waits `DELAY_S` before asking the platform
(for the runner's progress lines in a CI log, which must keep coming while scenarios are slow)."""

from __future__ import annotations

import os
import time
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Person

DELAY_S = float(os.environ.get("HIH_TEST_SLOW_S", "1.0"))


class SlowConnector(InsuranceConnector):
    def query_person(self, cert: Certificate) -> Person:
        time.sleep(DELAY_S)
        return super().query_person(cert)


def make(settings: InsuranceSettings) -> Any:
    return SlowConnector(settings)
