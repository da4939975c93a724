"""Each SLA of the contract against what the run measured: passed, failed (latency, errors or a rate below the
SLA's), with the expected and measured figures in the words a tender uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.contract.model import Sla
from harness.load.recorder import Recorder


@dataclass(frozen=True)
class Verdict:
    sla: Sla
    passed: bool
    measured_ms: float | None
    offered_rate: float
    errors_pct: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"sla": self.sla.label, "transaction": self.sla.transaction, "percentile": self.sla.percentile,
                "max_ms": self.sla.max_ms, "at_rate": self.sla.at_rate, "max_errors_pct": self.sla.max_errors_pct,
                "passed": self.passed, "measured_ms": self.measured_ms, "offered_rate": round(self.offered_rate, 3),
                "errors_pct": round(self.errors_pct, 3), "reason": self.reason}


def judge(slas: tuple[Sla, ...], recorder: Recorder, offered: dict[str, float]) -> list[Verdict]:
    """A verdict for each SLA whose transaction the workload drives (`offered`: its rate a second)."""
    verdicts = []
    for sla in slas:
        if sla.transaction not in offered:
            continue
        rate = offered[sla.transaction]
        tx = recorder.transactions.get(sla.transaction)
        percentile = "最大值" if sla.percentile >= 100 else f"P{sla.percentile:g}"
        if tx is None or tx.count == 0:
            verdicts.append(Verdict(sla, False, None, rate, 0.0, f"{sla.transaction} 没有完成任何调用（expected ≥ 1 call）"))
            continue
        measured = tx.percentile_ms(sla.percentile)
        failed = sum(tx.errors.values())
        errors_pct = 100 * failed / tx.count
        reasons = []
        if rate < sla.at_rate:
            reasons.append(f"施加的负载 {rate:g}/s 低于 SLA 规定的 {sla.at_rate:g}/s（用 --rate 提高负载）")
        if measured > sla.max_ms:
            reasons.append(f"{percentile} 响应时间 {measured:,.1f} ms，超过 {sla.max_ms:g} ms")
        if errors_pct > sla.max_errors_pct:
            kinds = ", ".join(f"{k} ×{n}" for k, n in tx.errors.most_common(3))
            reasons.append(f"失败 {errors_pct:.2f}%（{kinds}），允许 {sla.max_errors_pct:g}%")
        ok = not reasons
        reason = (f"{percentile} {measured:,.1f} ms ≤ {sla.max_ms:g} ms，负载 {rate:g}/s，失败 {errors_pct:.2f}%"
                  if ok else "；".join(reasons))
        verdicts.append(Verdict(sla, ok, measured, rate, errors_pct, reason))
    return verdicts
