"""A defective insurance connector planted for hih's own runner tests: when a settlement's reply is lost it simply
settles again with a new msgid instead of reversing the first one (the patient may be charged twice)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import Certificate, InsuranceSettings, Settlement, Unavailable, Visit


class DoubleCharge(InsuranceConnector):
    def settle(self, visit: Visit, cert: Certificate, batch: str, total: Decimal, use_account: bool = True) -> Settlement:
        data = self._settle_data(visit, cert, batch, total, use_account)
        data["pub_hosp_rfom_flag"] = "1"
        try:
            reply, msgid = self._call("2207", {"data": data}, visit.insuplc_admdvs)
        except Unavailable:
            reply, msgid = self._call("2207", {"data": data}, visit.insuplc_admdvs)
        return self._settlement(reply, msgid)


def make(settings: InsuranceSettings) -> Any:
    return DoubleCharge(settings)
