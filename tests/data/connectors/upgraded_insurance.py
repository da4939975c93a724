"""An "upgraded" copy of the reference insurance connector for `hih compare` tests: it registers visits with the
sub-department code in `caty` (A03.01) where the reference sends the department code (A03). Nothing else differs."""

from __future__ import annotations

from typing import Any

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import InsuranceSettings


class Upgraded(InsuranceConnector):
    def _call(self, infno: str, data: dict[str, Any], insuplc_admdvs: str | None = None,
              msgid: str | None = None) -> tuple[dict[str, Any], str]:
        if infno == "2201":
            data = {"data": {**data["data"], "caty": "A03.01"}}
        return super()._call(infno, data, insuplc_admdvs, msgid)


def make(settings: InsuranceSettings) -> Any:
    return Upgraded(settings)
