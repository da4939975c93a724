"""A defective maternal-child connector planted for hih's own runner tests: it checks records against their XSD but
not the platform's rules, so a resident ID number with a wrong check character goes out."""

from __future__ import annotations

from typing import Any

from lxml import etree

from connectors.mch_platform import MchPlatformConnector
from harness.ports.mch_platform import Finding, MchSettings


class NoIdCheck(MchPlatformConnector):
    def _rule_findings(self, record_type: str, root: etree._Element) -> list[Finding]:
        return [f for f in super()._rule_findings(record_type, root) if f.rule != "id-check"]


def make(settings: MchSettings) -> Any:
    return NoIdCheck(settings)
