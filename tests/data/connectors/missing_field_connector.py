"""A defective insurance connector planted for hih's own runner tests: its settlements leave out
pub_hosp_rfom_flag (required from contract 2024.1 on) and it sends without checking the contract first."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Settlement, Visit


class MissingField(InsuranceConnector):
    def _check(self, body: dict[str, Any]) -> None:
        """Sends whatever it built."""

    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        data = self._settle_data(visit, cert, batch, total, use_account)
        reply, msgid = self._call("2207", {"data": data}, visit.insuplc_admdvs)
        return self._settlement(reply, msgid)


def make(settings: InsuranceSettings) -> Any:
    return MissingField(settings)
