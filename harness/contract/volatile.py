"""Which fields of a transaction's messages are volatile (made afresh on every exchange) and which correlate a
request with its business object, from the three places that say so: the transport's protocol, the interface's
descriptor and the contract version (`volatile:`, `correlation:` in contract.yaml). See docs/record-replay.md."""

from __future__ import annotations

from harness.contract.interfaces import INTERFACES
from harness.contract.model import Contract
from harness.contract.transports import TRANSPORTS


def volatile_fields(contract: Contract, operation: str | None) -> tuple[str, ...]:
    """The field patterns ignored when messages of `operation` are matched (replay) or compared (`hih compare`)."""
    found: list[str] = []
    carrier = TRANSPORTS.get(contract.transport)
    described = INTERFACES.get(contract.interface)
    found.extend(carrier.volatile if carrier is not None else ())
    found.extend(described.volatile if described is not None else ())
    found.extend(contract.volatile.get("*", ()))
    if operation is not None:
        found.extend(contract.volatile.get(operation, ()))
    return tuple(dict.fromkeys(found))


def correlation_fields(contract: Contract, operation: str | None) -> tuple[str, ...]:
    """The fields that say which business object a request of `operation` is about; () when the contract names none."""
    return contract.correlation.get(operation, ()) if operation is not None else ()


def separator(contract: Contract) -> str:
    """What separates the steps of the field paths of `contract`'s messages."""
    carrier = TRANSPORTS.get(contract.transport)
    return carrier.separator if carrier is not None else "/"
