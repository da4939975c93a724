#!/usr/bin/env python3
"""Wall and CPU time per scenario of what the hih plugin does around each scenario of one interface, in one process
as a run's pytest process does it: reset the session's mock, make the scenario's work folder, build the connector
(the reference one) from the session's contract and watch it for the deadline, close it, remove the folder. Medians
over `--scenarios` (after one first scenario, left out: imports and first-time work).

    .venv/bin/python bench/scenario_setup.py --interface lis                          # work folders where runs put them
    .venv/bin/python bench/scenario_setup.py --interface lis --work-dir /tmp          # on a given file system
    .venv/bin/python bench/scenario_setup.py --interface blood-center --against /tmp/base --rounds 3

`--work-dir` is the folder the scenarios' work folders are made in (default: where `hih run` of the checkout puts its
work root, `harness.run.warm.work_parent` where it exists, else the system's temporary folder). Each side runs with
this venv and `PYTHONPATH=DIR`, from DIR; sides alternate round by round (bench/interleaved.py). The wall time is
what a scenario waits (the disk's flushes among it), the CPU what it costs: on a shared machine read the CPU first.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interleaved import checkout_parser, interleave, sides  # noqa: E402
from plugin_session import SESSION  # noqa: E402

HERE = Path(__file__).resolve().parents[1]
CHILD = SESSION + """
import json, os, shutil, sys, tempfile, time
from pathlib import Path
from harness.bindings import connector_settings, load_factory
from harness.run import deadline, warm

interface, scenarios, where = sys.argv[1], int(sys.argv[2]), sys.argv[3]
parent = where or getattr(warm, "work_parent", lambda: None)() or tempfile.gettempdir()
root = tempfile.mkdtemp(prefix="bench-scenario-setup-", dir=parent)
session = HihSession(Options())
mock = session.mock(interface)
factory = load_factory(session.connector_spec(interface))
rows = []
try:
    for _ in range(scenarios + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        mock.reset()
        workdir = Path(tempfile.mkdtemp(prefix="hih-", dir=root))
        settings = connector_settings(interface)(mock, session.contract(interface), 5.0, workdir)
        connector = deadline.watch(factory(settings), interface)
        built = time.perf_counter(), time.process_time()
        connector.close()
        shutil.rmtree(workdir)
        rows.append((built[0] - wall, built[1] - cpu, time.perf_counter() - built[0], time.process_time() - built[1]))
finally:
    session.close()
    shutil.rmtree(root, ignore_errors=True)
print(json.dumps({"parent": parent, "rows": rows[1:]}))
"""


def side(checkout: Path, interface: str, scenarios: int, where: str) -> dict[str, float | str]:
    """Medians in ms of one process of `checkout`: reset and build (wall, CPU), close and remove (wall, CPU)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "HIH_HISTORY": "off"}
    done = subprocess.run([sys.executable, "-c", CHILD, interface, str(scenarios), where], capture_output=True,
                          text=True, env=env, cwd=checkout, timeout=600, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    columns = list(zip(*got["rows"], strict=True))
    names = ("build_wall", "build_cpu", "close_wall", "close_cpu")
    return {"parent": got["parent"], **{name: statistics.median(column) * 1000 for name, column in zip(names, columns, strict=True)}}


def main() -> int:
    parser = checkout_parser(__doc__.split("\n\n")[0], rounds=3)
    parser.add_argument("--scenarios", type=int, default=40)
    parser.add_argument("--work-dir", default="", metavar="DIR", help="where the scenarios' work folders are made")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    figures = interleave(
        args.rounds, sides(args.against, HERE), lambda checkout: side(checkout, args.interface, args.scenarios, args.work_dir),
        lambda n, checkout, got: (f"[{n}] {checkout} ({got['parent']}): reset and build {got['build_wall']:.1f} ms wall, "
                                  f"{got['build_cpu']:.1f} ms CPU; close and remove {got['close_wall']:.1f} ms wall, "
                                  f"{got['close_cpu']:.1f} ms CPU"))
    print(f"load average {os.getloadavg()[0]:.2f}")
    for checkout, values in figures.items():
        medians = {name: statistics.median(float(v[name]) for v in values)
                   for name in ("build_wall", "build_cpu", "close_wall", "close_cpu")}
        print(f"{checkout}: {args.interface} a scenario, median of {len(values)} rounds: reset and build "
              f"{medians['build_wall']:.1f} ms wall, {medians['build_cpu']:.1f} ms CPU; close and remove "
              f"{medians['close_wall']:.1f} ms wall, {medians['close_cpu']:.1f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
