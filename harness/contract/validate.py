"""Validate captured messages (files) against a contract, whatever its transport."""

from __future__ import annotations

from collections.abc import Callable

from harness.contract.http_json import Checked, HttpJsonValidator
from harness.contract.model import Contract
from harness.errors import UsageError

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


def validate_capture(contract: Contract, raw: bytes, transaction: str | None = None) -> Checked:
    """Findings for one captured message (request or response) under `contract`.

    `transaction` names what a reply answers (JSON-over-HTTP replies do not say; HL7 and SOAP messages do)."""
    if transaction is not None:
        if contract.transport != "http-json":
            raise UsageError(f"--transaction applies to JSON-over-HTTP contracts; {contract.ref} messages name their "
                             "own message type or operation")
        if transaction not in contract.operations:
            raise UsageError(f"--transaction {transaction}: not a transaction of {contract.ref} (known: "
                             f"{', '.join(contract.operations)})")
        return HttpJsonValidator(contract).validate_capture(raw, transaction)
    validator = _CAPTURE.get(contract.transport)
    if validator is None:
        raise NotImplementedError(f"no capture validator for transport {contract.transport!r}")
    return validator(contract, raw)
