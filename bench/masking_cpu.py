"""CPU time of the evidence masking a `hih run` does between its scenarios, replayed from a recorded run: every
journal entry the hih plugin handed `Masker.exchange`, and every `remember` of a scenario's own identifiers, in the
run's order, given to a fresh masker of the run's configuration.

```sh
.venv/bin/python bench/masking_cpu.py                                   # record `hih run --interface insurance`, replay
.venv/bin/python bench/masking_cpu.py --rounds 7 --against /tmp/base    # each round: the other checkout, then this one
```
The recording holds the mocks' synthetic patients unmasked: it lives in a temporary folder removed at the end.
Prints the median and minimum CPU milliseconds of a replay (the best of `--repeats` in one process, so imports and
the first compilation of patterns are left out), each side in a process of its own with `PYTHONPATH` set to its
checkout.

Run as a pytest plugin (`PYTEST_PLUGINS=masking_cpu` with `HIH_MASKING_RECORD=<file>`), it records.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RECORD_ENV = "HIH_MASKING_RECORD"
HERE = Path(__file__).resolve().parent

if os.environ.get(RECORD_ENV):  # imported by a run's pytest process as a plugin
    import pytest

    from harness.report import masking as _masking

    _CALLS: list[list[Any]] = []
    _exchange, _remember = _masking.Masker.exchange, _masking.Masker.remember

    def _recorded_exchange(self: Any, entry: dict[str, Any]) -> dict[str, Any]:
        _CALLS.append(["exchange", json.loads(json.dumps(entry, default=str))])
        return _exchange(self, entry)

    def _recorded_remember(self: Any, values: Any) -> None:
        values = list(values)
        _CALLS.append(["remember", values])
        _remember(self, values)

    _masking.Masker.exchange = _recorded_exchange  # type: ignore[method-assign]
    _masking.Masker.remember = _recorded_remember  # type: ignore[method-assign]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(session: pytest.Session) -> None:
        Path(os.environ[RECORD_ENV]).write_text(json.dumps(_CALLS, ensure_ascii=False), encoding="utf-8")


def record(run_args: str, to: Path) -> None:
    """One `hih run` (one pytest process) with this module as a plugin, its masker's calls written to `to`."""
    env = {**os.environ, "HIH_HISTORY": "off", RECORD_ENV: str(to), "PYTEST_PLUGINS": "masking_cpu",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([str(Path(sys.executable).parent / "hih"), "run", *shlex.split(run_args), "--workers", "1",
                        "--report-dir", folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                       env=env)
    if not to.is_file():
        raise SystemExit(f"the run recorded nothing in {to}")


def replay(calls_file: Path, repeats: int) -> float:
    """The least CPU milliseconds of `repeats` replays of the recorded calls, each on a fresh masker."""
    from harness.config import load_config
    from harness.report.masking import Masker

    calls = json.loads(calls_file.read_text(encoding="utf-8"))
    config = load_config().masking
    best = float("inf")
    for _ in range(repeats):
        masker = Masker.from_config(config)
        started = time.process_time()
        for kind, argument in calls:
            if kind == "exchange":
                masker.exchange(argument)
            else:
                masker.remember(argument)
        best = min(best, (time.process_time() - started) * 1000)
    return best


def replay_in(checkout: str | None, calls_file: Path, repeats: int) -> float:
    env = {**os.environ}
    env.pop(RECORD_ENV, None)
    if checkout:
        env["PYTHONPATH"] = checkout
    out = subprocess.run([sys.executable, __file__, "--replay", str(calls_file), "--repeats", str(repeats)],
                         capture_output=True, text=True, check=True, env=env, cwd=checkout)
    return float(out.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-args", default="--interface insurance", help="arguments of the recorded `hih run`")
    parser.add_argument("--rounds", type=int, default=5, help="replay processes per side")
    parser.add_argument("--repeats", type=int, default=3, help="replays in each process (the least is taken)")
    parser.add_argument("--against", default=None, metavar="DIR", help="another checkout, replayed alternately")
    parser.add_argument("--replay", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay:
        print(f"{replay(args.replay, args.repeats):.2f}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        calls_file = Path(scratch) / "calls.json"
        record(args.run_args, calls_file)
        calls = json.loads(calls_file.read_text(encoding="utf-8"))
        exchanges = sum(1 for kind, _ in calls if kind == "exchange")
        print(f"recorded `hih run {args.run_args}`: {exchanges} exchanges, {len(calls) - exchanges} remembers; "
              f"load average {os.getloadavg()[0]:.2f}")
        sides: dict[str, list[float]] = {args.against: []} if args.against else {}
        sides["this checkout"] = []
        for _ in range(args.rounds):
            for side, figures in sides.items():
                figures.append(replay_in(None if side == "this checkout" else side, calls_file, args.repeats))
        for side, figures in sides.items():
            print(f"masking replay ({side}): CPU median {statistics.median(figures):.1f} ms, min {min(figures):.1f} ms")
        print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
