"""Memory stays bounded under a stream of large requests: a mock process takes 40 requests of 6-8 MiB (insurance,
signed and unsigned) or 60 of 1 MiB (blood centre) and its memory grows by a small, fixed amount, not with the
stream (the journal keeps truncated bodies and at most 64 MiB of estimate). Measured in a subprocess with
tracemalloc and RSS after a warm-up; not a timed test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def measure(interface: str, count: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "tests.mocks.memory_child", interface, str(count)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc to read the process's RSS")
@pytest.mark.parametrize(("interface", "count", "stream_mib"), [("insurance", 40, 280), ("blood-center", 60, 60)])
def test_memory_growth_is_bounded_under_large_requests(interface: str, count: int, stream_mib: int) -> None:
    grown = measure(interface, count)
    assert grown["journal_bytes"] <= 64 * 2**20
    # the journal's estimate counts raw bytes four times; what Python holds for it is about a quarter of the budget
    assert grown["traced_growth_mib"] < 24, f"{grown['traced_growth_mib']:.1f} MiB traced after {stream_mib} MiB of requests"
    assert grown["rss_growth_mib"] < 96, f"RSS grew {grown['rss_growth_mib']:.1f} MiB after {stream_mib} MiB of requests"
