"""What a load run measured: per transaction an HDR histogram of latencies (microseconds, 3 significant digits, from
1 µs to an hour), the errors by kind with a few examples, and a per-second timeline of completions, errors and a
bounded sample of latencies (for throughput and percentiles over time)."""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_LATENCY_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
SAMPLES_PER_SECOND = 5_000
"""Latencies kept per transaction and second for the timeline's percentiles (the histogram keeps every one)."""
EXAMPLES_PER_KIND = 3


@dataclass
class Second:
    """One second of the timeline for one transaction."""

    done: int = 0
    errors: int = 0
    samples: array[float] = field(default_factory=lambda: array("d"))


@dataclass
class Transaction:
    """Everything recorded for one transaction (an insurance infno, an HL7 message type, a SOAP operation)."""

    name: str
    histogram: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS))
    count: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    timeline: dict[int, Second] = field(default_factory=dict)

    def percentile_ms(self, percentile: float) -> float:
        if self.histogram.get_total_count() == 0:
            return 0.0
        if percentile >= 100:
            return float(self.histogram.get_max_value()) / 1000
        return float(self.histogram.get_value_at_percentile(percentile)) / 1000

    def summary(self, seconds: float) -> dict[str, Any]:
        failed = sum(self.errors.values())
        return {
            "count": self.count, "ok": self.count - failed, "errors": failed,
            "errors_pct": round(100 * failed / self.count, 3) if self.count else 0.0,
            "rate_per_s": round(self.count / seconds, 2) if seconds > 0 else 0.0,
            "p50_ms": round(self.percentile_ms(50), 3), "p95_ms": round(self.percentile_ms(95), 3),
            "p99_ms": round(self.percentile_ms(99), 3), "max_ms": round(self.percentile_ms(100), 3),
            "mean_ms": round(self.histogram.get_mean_value() / 1000, 3) if self.count else 0.0,
            "errors_by_kind": dict(self.errors.most_common()), "error_examples": self.examples,
        }


class Recorder:
    """Thread-safe recording of every call of a load run; `start` is the run's time origin (perf_counter)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.transactions: dict[str, Transaction] = {}
        self.not_started = 0
        """Iterations still waiting for a free worker when the run stopped (the system fell behind)."""
        self._lock = threading.Lock()

    def record(self, name: str, began: float, ended: float, error: BaseException | str | None = None) -> None:
        """One call of `name`, from `began` (its scheduled time) to `ended`; `error` when it failed."""
        latency_us = max(1, min(MAX_LATENCY_US, round((ended - began) * 1e6)))
        second = int(ended - self.start)
        with self._lock:
            tx = self.transactions.get(name)
            if tx is None:
                tx = self.transactions[name] = Transaction(name)
            tx.count += 1
            tx.histogram.record_value(latency_us)
            slot = tx.timeline.get(second)
            if slot is None:
                slot = tx.timeline[second] = Second()
            slot.done += 1
            if len(slot.samples) < SAMPLES_PER_SECOND:
                slot.samples.append(latency_us / 1000)
            if error is not None:
                kind = error if isinstance(error, str) else str(getattr(error, "kind", "") or type(error).__name__)
                tx.errors[kind] += 1
                slot.errors += 1
                examples = tx.examples.setdefault(kind, [])
                if len(examples) < EXAMPLES_PER_KIND:
                    examples.append(str(error)[:300] if not isinstance(error, str) else kind)

    def errors(self) -> int:
        with self._lock:
            return sum(sum(tx.errors.values()) for tx in self.transactions.values())

    def done(self) -> int:
        with self._lock:
            return sum(tx.count for tx in self.transactions.values())

    def timeline(self) -> list[dict[str, Any]]:
        """Per second: each transaction's completions, errors, p50 and p99 (from the sampled latencies)."""
        with self._lock:
            seconds = sorted({s for tx in self.transactions.values() for s in tx.timeline})
            rows = []
            for second in seconds:
                row: dict[str, Any] = {"second": second, "transactions": {}}
                for name, tx in self.transactions.items():
                    slot = tx.timeline.get(second)
                    if slot is None:
                        continue
                    ordered = sorted(slot.samples)
                    row["transactions"][name] = {
                        "done": slot.done, "errors": slot.errors,
                        "p50_ms": round(_at(ordered, 0.50), 3), "p99_ms": round(_at(ordered, 0.99), 3),
                    }
                rows.append(row)
            return rows


def _at(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]
