"""CPU time a `hih run` pytest process spends between its scenarios (fixture set-up and tear-down, making and
masking each scenario's report, writing its event) and before its first one, as `hih run` starts it. CPU time, which
a shared machine skews far less than wall time.

```sh
.venv/bin/python bench/between_cpu.py --rounds 7                       # this checkout
.venv/bin/python bench/between_cpu.py --rounds 7 --against /tmp/base   # alternating with another checkout
```
Each round asks `hih` for the pytest process's command line (as bench/start_cpu.py does), then runs that process
through harness/run/warm.py with a probe plugin. The probe reads the process's CPU time (all its threads: the mocks'
server thread too) when the test loop starts (every plugin's collection work done), around each scenario's call (`pytest_runtest_call`, the part a
scenario's `duration_s` covers) and when the session finishes (before junit.xml and the other files are written).
Printed per side: CPU until collected; CPU from collected to the session's end less the calls' CPU ("between");
the calls' CPU; scenarios run. Each side runs with this venv and `PYTHONPATH=DIR`, from DIR, through its own
console-script entry point. Run it after a `hih run` of each side, so that .pyc files and the parse cache exist.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "bench"))
from interleaved import checkout_parser, interleave, sides  # noqa: E402
from start_cpu import hih_order  # noqa: E402 - the same way of asking `hih` for the command line

PROBE = """
import json, os, time, pytest
_T = {"calls": 0.0, "n": 0}
@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):  # after every plugin's pytest_collection_finish (the masked node ids among them)
    _T["collected"] = time.process_time()
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    started = time.process_time()
    try:
        return (yield)
    finally:
        _T["calls"] += time.process_time() - started
        _T["n"] += 1
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    end = time.process_time()
    with open(os.environ["HIH_BETWEEN_CPU_OUT"], "w") as out:
        json.dump({"collected_ms": _T["collected"] * 1000, "calls_ms": _T["calls"] * 1000, "scenarios": _T["n"],
                   "between_ms": (end - _T["collected"] - _T["calls"]) * 1000}, out)
"""


def side(checkout: Path, interface: str, scratch: Path) -> dict[str, float]:
    """The probe's figures for one pytest process of `checkout`."""
    _, argv, env = hih_order(checkout, interface, scratch)
    for option in ("--hih-events", "--junitxml", "--cucumberjson", "--hih-deadline-log"):
        Path(argv[argv.index(option) + 1]).parent.mkdir(parents=True, exist_ok=True)
    (scratch / "hih_between_cpu_probe.py").write_text(PROBE, encoding="utf-8")
    out = scratch / "cpu.json"
    order = {"argv": [*argv, "-p", "hih_between_cpu_probe"], "log": str(scratch / "pytest.log")}
    child_env = {**env, "PYTHONPATH": os.pathsep.join([str(checkout), str(scratch)]), "HIH_BETWEEN_CPU_OUT": str(out),
                 "HIH_WORK_ROOT": str(scratch)}
    subprocess.run([sys.executable, str(checkout / "harness" / "run" / "warm.py")], input=json.dumps(order) + "\n",
                   text=True, env=child_env, cwd=checkout, timeout=300, check=False, capture_output=True)
    figures: dict[str, float] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def main() -> int:
    args = checkout_parser(__doc__.split("\n\n")[0], rounds=7).parse_args()

    def measure(checkout: Path) -> dict[str, float]:
        with tempfile.TemporaryDirectory() as scratch:
            return side(checkout, args.interface, Path(scratch))

    print(f"load average {os.getloadavg()[0]:.2f}")
    figures = interleave(args.rounds, sides(args.against, HERE), measure,
                         lambda _, checkout, got: f"[{checkout}] until collected {got['collected_ms']:.0f} ms CPU, "
                                                  f"between scenarios {got['between_ms']:.0f} ms CPU, calls "
                                                  f"{got['calls_ms']:.0f} ms CPU ({got['scenarios']:.0f} scenarios)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for checkout, runs in figures.items():
        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(f"{checkout}: until collected median {median('collected_ms'):.0f} ms CPU; between scenarios median "
              f"{median('between_ms'):.0f} ms CPU (min {min(r['between_ms'] for r in runs):.0f}); calls median "
              f"{median('calls_ms'):.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
