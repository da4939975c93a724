"""Validate captured messages (files) against a contract, whatever its transport."""

from __future__ import annotations

from collections.abc import Callable

from harness.contract.http_json import Checked, HttpJsonValidator
from harness.contract.model import Contract

CaptureValidator = Callable[[Contract, bytes], Checked]

_CAPTURE: dict[str, CaptureValidator] = {
    "http-json": lambda contract, raw: HttpJsonValidator(contract).validate_capture(raw),
    "hl7v2-mllp": lambda contract, raw: _hl7_capture(contract, raw),
}


def _hl7_capture(contract: Contract, raw: bytes) -> Checked:
    from harness.contract.hl7.contract import validate_capture as hl7_validate_capture

    return hl7_validate_capture(contract, raw)


def register_capture_validator(transport: str, validator: CaptureValidator) -> None:
    _CAPTURE[transport] = validator


def validate_capture(contract: Contract, raw: bytes) -> Checked:
    """Findings for one captured message (request or response) under `contract`."""
    validator = _CAPTURE.get(contract.transport)
    if validator is None:
        raise NotImplementedError(f"no capture validator for transport {contract.transport!r}")
    return validator(contract, raw)
