"""A defective insurance connector planted for hih's own runner tests: it sends every request without TIF headers."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.insurance import InsuranceConnector
from harness.ports.insurance import InsuranceSettings


def _strip_signature(request: httpx.Request) -> None:
    for name in [n for n in request.headers if n.lower().startswith("x-tif-")]:
        del request.headers[name]


def make(settings: InsuranceSettings) -> Any:
    connector = InsuranceConnector(settings)
    connector.http.event_hooks = {"request": [_strip_signature], "response": []}
    return connector
