#!/usr/bin/env python3
"""What building the SOAP reference connectors costs the process that runs the scenarios: `hih run` builds a
blood-centre and a maternal-child connector (and its zeep client) per scenario, each against a mock on a new port.

A child process (this script with `--child N`, the checkout's own modules first on the path) starts both mocks
in process as a run does, builds and closes one connector of each (the first: imports, the first parse), then N of
each, and prints the CPU of those N builds (user+system of the process: the mocks answering the WSDL fetches are
in it, as in a run). Checkouts (this one, then every `--base DIR`, e.g. a `git archive` of another commit) are
interleaved round by round, so a busy machine weighs on all alike. `--callgrind` counts instructions instead, with
valgrind: the child once with N and once with 0, the difference over 2N builds (a figure other load cannot skew;
a few minutes a checkout).

  .venv/bin/python bench/soap_connector_build.py [--builds 40] [--rounds 5] [--base /tmp/base]... [--callgrind]
  git archive COMMIT | tar -x -C /tmp/base      # a checkout of another commit to compare with
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interleaved import interleave, spread

ROOT = Path(__file__).resolve().parents[1]
RESULT = "builds:"


def child(builds: int) -> None:
    """Both mocks in this process, one warm-up connector of each, then `builds` of each; prints the CPU of those."""
    from connectors.blood_center import reference as blood_center
    from connectors.mch_platform import reference as mch_platform
    from harness.bindings import connector_settings
    from harness.contract.loader import ContractStore
    from mocks.registry import create_mock
    from mocks.transport.runtime import Runtime

    runtime = Runtime().start()
    with tempfile.TemporaryDirectory(prefix="hih-soap-build-") as folder:
        built = []
        for interface, factory in (("blood-center", blood_center), ("mch-platform", mch_platform)):
            mock = create_mock(ContractStore().load(interface))
            mock.start(runtime)
            settings = connector_settings(interface)(mock, mock.contract, 5.0, Path(folder))
            built.append((factory, settings))

        def build_all() -> None:
            for factory, settings in built:
                connector = factory(settings)
                if hasattr(connector, "_zeep"):  # the maternal-child connector reads the WSDL at its first call
                    connector._zeep()
                connector.close()

        build_all()
        started = time.process_time()
        for _ in range(builds):
            build_all()
        cpu = time.process_time() - started
    runtime.stop()
    print(f"{RESULT} {json.dumps({'builds': builds, 'cpu_s': cpu})}", flush=True)


def _run(checkout: Path, builds: int) -> float:
    """CPU seconds of `builds` builds of each connector in a child of `checkout`."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(builds)], cwd=checkout,
                          env={**os.environ, "PYTHONPATH": str(checkout)}, capture_output=True, text=True,
                          timeout=600, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith(RESULT)), None)
    if done.returncode or line is None:
        raise SystemExit(f"{checkout}: the child failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    cpu: float = json.loads(line[len(RESULT):])["cpu_s"]
    return cpu


def _instructions(checkout: Path, builds: int) -> int:
    sys.path.insert(0, str(ROOT))
    from bench.callgrind_count import callgrind_instructions

    return callgrind_instructions([str(Path(__file__).resolve()), "--child", str(builds)], checkout, checkout,
                                  RESULT, timeout_s=3600)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=40, help="connectors of each interface built and closed")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", type=Path, action="append", default=[], help="another checkout to compare with")
    parser.add_argument("--callgrind", action="store_true", help="count instructions with valgrind instead")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.child is not None:
        child(a.child)
        return 0
    checkouts = [ROOT, *[b.resolve() for b in a.base]]
    if a.callgrind:
        for checkout in checkouts:
            per = (_instructions(checkout, a.builds) - _instructions(checkout, 0)) / (2 * a.builds)
            print(f"{checkout}: {per:,.0f} instructions per connector built (callgrind, {a.builds} of each)")
        return 0
    figures = interleave(a.rounds, checkouts, lambda checkout: _run(checkout, a.builds) / (2 * a.builds) * 1000,
                         lambda n, checkout, ms: f"round {n} {checkout}: {ms:.2f} ms of CPU per connector built")
    for checkout, values in figures.items():
        print(f"{checkout}: {spread(values, 2)} ms per connector built over {len(values)} rounds of {a.builds} of each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
