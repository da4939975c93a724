"""Named workloads (`hih load --profile NAME`): what one iteration does, in the proportions of a real peak.

A workload belongs to one interface. Each worker thread gets a session of its own (its own connector, signed in
where the interface needs it) before the clock starts; an iteration is one patient, one result or one order, and
times each call with `step(transaction, call)`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.contract.model import Contract
from harness.errors import UsageError
from harness.load.engine import Session


@dataclass
class Target:
    """What a workload drives: the contract, the in-process partner mock (None when none is started), a factory of
    connectors, and the hospital's listener where the partner pushes messages to it."""

    interface: str
    contract: Contract
    mock: Any
    connector: Callable[[], Any] | None
    listener: tuple[str, int] | None
    tag: str
    """Digits unique to this run, for identifiers that must not repeat across runs (outpatient numbers, orders)."""


@dataclass(frozen=True)
class Workload:
    name: str
    interface: str
    summary: str
    transactions: dict[str, int]
    """Calls of each transaction per iteration: the offered rate of each is `rate` times this."""
    session: Callable[[Target], Session]
    needs_mock: bool = True
    needs_connector: bool = True


_MODULES = ("harness.load.workloads.insurance", "harness.load.workloads.lis", "harness.load.workloads.blood_center")


def workloads() -> dict[str, Workload]:
    """Every workload by name."""
    found: dict[str, Workload] = {}
    for module in _MODULES:
        for workload in importlib.import_module(module).WORKLOADS:
            found[workload.name] = workload
    return found


def workload(interface: str, name: str) -> Workload:
    """The named workload of `interface`; a UsageError naming the ones there are."""
    known = {w.name: w for w in workloads().values() if w.interface == interface}
    if name not in known:
        listed = ", ".join(sorted(known)) or "none"
        raise UsageError(f"--profile {name}: no such workload for {interface} (workloads for {interface}: {listed})")
    return known[name]


class NotAcknowledged(Exception):
    """The partner or the hospital answered, but not with the positive acknowledgement the step needs."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
