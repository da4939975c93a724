"""A planted connector factory that raises: the hospital's adapter cannot reach its licence server."""

from __future__ import annotations

from typing import Any

from harness.ports.insurance import InsuranceSettings


def make(settings: InsuranceSettings) -> Any:
    raise RuntimeError("licence server 10.0.0.9 unreachable")
