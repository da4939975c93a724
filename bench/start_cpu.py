"""CPU time of what stands before the first scenario of `hih run`, in each of its two processes: the `hih` process
until it tells the warm pytest process its command line, and the pytest process (harness/run/warm.py, as `hih run`
starts it) until its scenarios are collected. CPU time, which a shared machine skews far less than wall time.

```sh
.venv/bin/python bench/start_cpu.py --rounds 7                       # this checkout
.venv/bin/python bench/start_cpu.py --rounds 7 --against /tmp/base   # alternating with another checkout
```
On a quiet 2-core machine the two processes run side by side (the pytest process starts first of all), so the
`start` phase of bench/startup.py is about the larger of the two plus the pytest process's own start. Here the
pytest process gets its command line as soon as it is ready (as when `hih` is the quicker, on a quiet machine),
and runs with `--collect-only` and a probe plugin that writes its CPU time when the test loop starts (every
plugin's collection work done: the masked node ids too). Each side
runs with this venv and `PYTHONPATH=DIR`, from DIR, through its own console-script entry point. Run it after a
`hih run` of each side, so that .pyc files and the parse cache are written.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from interleaved import checkout_parser, interleave, sides, spread

HERE = Path(__file__).resolve().parents[1]
PARENT = r"""
import json, os, sys, time
from harness.run import warm
def take(argv, log):
    print(json.dumps({"cpu_ms": time.process_time() * 1000, "argv": argv}), flush=True)
    warm.discard()
    os._exit(0)
warm.take = take
sys.argv = ["hih", "run", "--interface", %(interface)r, "--report-dir", %(report)r]
from %(module)s import %(func)s
%(func)s()
"""
PROBE = """
import os, time, pytest
@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):  # after every plugin's pytest_collection_finish (the masked node ids among them)
    with open(os.environ["HIH_START_CPU_OUT"], "w") as out:
        out.write(str(time.process_time() * 1000))
"""


def hih_order(checkout: Path, interface: str, scratch: Path) -> tuple[float, list[str], dict[str, str]]:
    """What `hih run --interface INTERFACE` of `checkout` tells its warm pytest process: (the CPU ms `hih` took until
    then, the pytest command line without the parent to watch, the environment to run it in)."""
    target = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]["hih"]
    module, func = target.split(":")
    env = {**os.environ, "PYTHONPATH": str(checkout), "HIH_HISTORY": "off"}
    script = PARENT % {"interface": interface, "report": str(scratch / "report"), "module": module, "func": func}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=checkout,
                          timeout=120, check=True)
    told = json.loads(done.stdout.strip().splitlines()[-1])
    argv: list[str] = told["argv"]
    if "--hih-parent-pid" in argv:  # that process is gone: the pytest process would stop at once
        at = argv.index("--hih-parent-pid")
        del argv[at:at + 2]
    return float(told["cpu_ms"]), argv, env


def side(checkout: Path, interface: str, scratch: Path) -> tuple[float, float]:
    """(CPU ms of `hih` until the order, CPU ms of the pytest process until collected) for one checkout."""
    parent_ms, argv, env = hih_order(checkout, interface, scratch)
    (scratch / "hih_start_cpu_probe.py").write_text(PROBE, encoding="utf-8")
    out = scratch / "cpu.txt"
    order = {"argv": [*argv, "--collect-only", "-p", "hih_start_cpu_probe"], "log": str(scratch / "pytest.log")}
    child_env = {**env, "PYTHONPATH": os.pathsep.join([str(checkout), str(scratch)]), "HIH_START_CPU_OUT": str(out)}
    subprocess.run([sys.executable, str(checkout / "harness" / "run" / "warm.py")], input=json.dumps(order) + "\n",
                   text=True, env=child_env, cwd=checkout, timeout=120, check=False, capture_output=True)
    return parent_ms, float(out.read_text(encoding="utf-8"))


def main() -> int:
    args = checkout_parser(__doc__.split("\n\n")[0], rounds=7).parse_args()

    def measure(checkout: Path) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as scratch:
            return side(checkout, args.interface, Path(scratch))

    figures = interleave(args.rounds, sides(args.against, HERE), measure,
                         lambda _, checkout, got: f"[{checkout}] hih until the order {got[0]:.0f} ms CPU, pytest "
                                                  f"process until collected {got[1]:.0f} ms CPU")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for checkout, pairs in figures.items():
        print(f"{checkout}: hih until the order: median {statistics.median(p for p, _ in pairs):.0f} ms CPU; "
              f"pytest process until collected: {spread(c for _, c in pairs)} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
