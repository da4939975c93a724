"""Where the wall time between a `hih run` pytest process's scenarios goes: its main thread's waits for the
interpreter lock in pytest's terminal flushes (while the report thread finishes the previous scenario's report),
against the CPU the process spends there, and how much of its scenarios' calls it spends without CPU (waiting on
a mock's injected latency, a timeout, or a core). Compares ways of finishing the reports in one checkout or two.

```sh
.venv/bin/python bench/between_waits.py --rounds 4                        # report thread, then reports in place
.venv/bin/python bench/between_waits.py --rounds 4 --against /tmp/base    # another checkout's report thread first
.venv/bin/python bench/between_waits.py --rounds 4 --modes thread,no-flush
```
Modes: `thread` (as `hih run` runs), `inline` (`--hih-reports-inline`: each report finished where it is made),
`no-flush` (the report thread, with pytest's terminal writer flushing nothing: each finished line still reaches the
log through its line buffering). Each round runs every side and mode once, in turn, as bench/between_cpu.py runs a
process (the command line `hih` gives, through harness/run/warm.py), with a probe plugin. Printed per side and mode,
medians: the main thread's wall in the terminal flushes (and how many), the wall between scenarios (from collected to
the session's end, less the calls), the process's CPU there (all threads: the report thread's too), the calls' wall
and the process's CPU during them; `idle in calls` is their difference, an upper bound on a loaded machine (it holds
the time spent waiting for a core); and the report thread's own CPU over the process's life (its jobs, wherever
they ran). Run it after a `hih run` of each side, so that .pyc files and the parse cache
exist.
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
import json, os, threading, time, pytest
_T = {"flush_s": 0.0, "flushes": 0, "calls_s": 0.0, "calls_cpu_s": 0.0}
@pytest.hookimpl(trylast=True)  # after the terminal plugin has made its writer
def pytest_configure(config):
    writer = config.get_terminal_writer()
    real = writer.flush
    def flush():
        if os.environ.get("HIH_BETWEEN_WAITS_NO_FLUSH"):
            return
        started = time.perf_counter()
        real()
        _T["flush_s"] += time.perf_counter() - started
        _T["flushes"] += 1
    writer.flush = flush
@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    _T["wall0"], _T["cpu0"] = time.perf_counter(), time.process_time()
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item):
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        _T["calls_s"] += time.perf_counter() - wall
        _T["calls_cpu_s"] += time.process_time() - cpu
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    wall, cpu = time.perf_counter() - _T["wall0"], time.process_time() - _T["cpu0"]
    reports = [t for t in threading.enumerate() if t.name == "hih-reports" and t.ident is not None]
    report_cpu = time.clock_gettime(time.pthread_getcpuclockid(reports[0].ident)) if reports else 0.0
    with open(os.environ["HIH_BETWEEN_WAITS_OUT"], "w") as out:
        json.dump({"report_thread_cpu_ms": report_cpu * 1000, "flush_ms": _T["flush_s"] * 1000, "flushes": _T["flushes"],
                   "between_ms": (wall - _T["calls_s"]) * 1000, "between_cpu_ms": (cpu - _T["calls_cpu_s"]) * 1000,
                   "calls_ms": _T["calls_s"] * 1000, "calls_cpu_ms": _T["calls_cpu_s"] * 1000}, out)
"""
MODES = {"thread": [], "inline": ["--hih-reports-inline"], "no-flush": []}


def side(checkout: Path, mode: str, interface: str, scratch: Path) -> dict[str, float]:
    """The probe's figures for one pytest process of `checkout` in `mode`."""
    _, argv, env = hih_order(checkout, interface, scratch)
    for option in ("--hih-events", "--junitxml", "--cucumberjson", "--hih-deadline-log"):
        Path(argv[argv.index(option) + 1]).parent.mkdir(parents=True, exist_ok=True)
    (scratch / "hih_between_waits_probe.py").write_text(PROBE, encoding="utf-8")
    out = scratch / "waits.json"
    order = {"argv": [*argv, *MODES[mode], "-p", "hih_between_waits_probe"], "log": str(scratch / "pytest.log")}
    child_env = {**env, "PYTHONPATH": os.pathsep.join([str(checkout), str(scratch)]),
                 "HIH_BETWEEN_WAITS_OUT": str(out), "HIH_WORK_ROOT": str(scratch)}
    if mode == "no-flush":
        child_env["HIH_BETWEEN_WAITS_NO_FLUSH"] = "1"
    subprocess.run([sys.executable, str(checkout / "harness" / "run" / "warm.py")], input=json.dumps(order) + "\n",
                   text=True, env=child_env, cwd=checkout, timeout=300, check=False, capture_output=True)
    figures: dict[str, float] = json.loads(out.read_text(encoding="utf-8"))
    return figures


def shown(figures: dict[str, float]) -> str:
    return (f"flushes {figures['flush_ms']:.0f} ms wall ({figures['flushes']:.0f}); between scenarios "
            f"{figures['between_ms']:.0f} ms wall, {figures['between_cpu_ms']:.0f} ms CPU; calls "
            f"{figures['calls_ms']:.0f} ms wall, {figures['calls_cpu_ms']:.0f} ms CPU, idle in calls "
            f"{figures['calls_ms'] - figures['calls_cpu_ms']:.0f} ms; report thread {figures['report_thread_cpu_ms']:.0f} ms "
            "CPU")


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=4)
    parser.add_argument("--modes", default="thread,inline", help=f"comma-separated, of {', '.join(MODES)}")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode {unknown[0]!r}")

    def measure(key: tuple[Path, str]) -> dict[str, float]:
        with tempfile.TemporaryDirectory(prefix="hih-between-waits-") as scratch:
            return side(key[0], key[1], args.interface, Path(scratch))

    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    keys = [(checkout, mode) for checkout in sides(args.against, HERE) for mode in modes]
    figures = interleave(args.rounds, keys, measure, lambda n, key, got: f"[{n}] {key[0]} {key[1]}: {shown(got)}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for (checkout, mode), rounds in figures.items():
        medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
        print(f"{checkout} {mode}, medians: {shown(medians)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
