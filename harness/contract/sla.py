"""A contract's `sla:` list: response times per transaction under load, as the tenders promise them.

    sla:
      - {transaction: "2207", percentile: 99, max_ms: 3000, at_rate: 50}   # 2207 p99 <= 3 s at 50 a second

`percentile` defaults to 99 (100 is the maximum); `max_errors_pct` to 0 (no failed call). A transaction the contract
does not have is a contract problem, found by `hih contract check` like any other.
"""

from __future__ import annotations

from typing import Any

from harness.contract.errors import ContractProblem
from harness.contract.model import Contract, Sla
from harness.contract.source import SourceFile


def sla_of(source: SourceFile, raw: list[dict[str, Any]] | None, contract: Contract,
           problems: list[ContractProblem]) -> tuple[Sla, ...]:
    """The SLAs of contract.yaml (already checked against the meta-schema); unknown transactions go to `problems`."""
    kept = []
    for index, item in enumerate(raw or []):
        transaction = str(item["transaction"])
        if transaction not in contract.operations:
            known = ", ".join(contract.operations) or "none"
            problems.append(source.problem(f"/sla/{index}/transaction",
                                           f"no transaction {transaction!r} in this contract (known: {known})"))
            continue
        kept.append(Sla(transaction, float(item.get("percentile", 99)), float(item["max_ms"]), float(item["at_rate"]),
                        float(item.get("max_errors_pct", 0)), str(item.get("note", ""))))
    return tuple(kept)
