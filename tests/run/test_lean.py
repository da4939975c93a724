"""harness.run.lean loads the plugins named after it on a run's command line as `-p` would, in the same order, but
without pytest's lookup of every installed distribution's entry points for each name."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from harness.run.child import Files, pytest_command
from harness.run.lanes import Lane
from harness.run.lean import named_after
from harness.run.options import RunOptions
from tests.conftest import ROOT

LEAN = "harness.run.lean"


def test_the_plugins_named_after_it_in_their_order() -> None:
    args = ["-c", "x.ini", "-p", "no:cacheprovider", "-p", "early", "-p", LEAN, "-q", "-p", "one", "--flag", "-p",
            "no:doctest", f"-p{'two'}", "-p", " three ", "features"]
    assert named_after(args) == ["one", "two", "three"]


def test_nothing_when_it_is_not_named_or_named_last() -> None:
    assert named_after(["-p", "one", "-p", "two"]) == []
    assert named_after(["-p", "one", "-p", LEAN]) == []
    assert named_after(["-p", LEAN, "-p"]) == [], "a dangling -p names nothing"
    assert named_after([Path("features"), "-p", LEAN, "-p", "one"]) == ["one"]


PROBE = """
import json, sys, importlib.metadata as metadata
looked = []
every = metadata.distributions
def counted(**kwargs):
    looked.append(1)
    return every(**kwargs)
metadata.distributions = counted
import pytest
class Order:
    def pytest_collection_finish(self, session):
        self.names = [n for n, _ in session.config.pluginmanager.list_name_plugin()]
order = Order()
code = pytest.main(sys.argv[1:] + ["--collect-only"], plugins=[order])
print(json.dumps([len(looked), [n for n in order.names if n.startswith(("harness", "pytest_bdd", "xdist"))], code,
                  "uvicorn" in sys.modules]))
"""


def _probe(args: list[str]) -> tuple[int, list[str], int, bool]:
    from harness.run.warm import WORK_ROOT_ENV, child_env

    env = child_env()
    try:
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=180,
                              cwd=ROOT, env=env)
    finally:
        shutil.rmtree(env[WORK_ROOT_ENV], ignore_errors=True)
    lines = done.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("["), done.stdout[-2000:] + done.stderr[-2000:]
    looked, names, code, uvicorn = json.loads(lines[-1])
    return int(looked), [str(n) for n in names], int(code), bool(uvicorn)


def _run_args(tmp_path: Path, workers: int) -> list[str]:
    from harness.run.options import plan

    p = plan(RunOptions(features_dir=ROOT / "features", report_dir=tmp_path, interfaces=["insurance"],
                        workers=workers), check_contracts=False, check_connectors=False)
    args = pytest_command(p, Files.in_folder(tmp_path), tmp_path / "deadline.jsonl",
                          Lane(0, list(p.versions), workers))
    args = [a for a in args if a != "--hih-quick-exit"]
    del args[args.index("--hih-parent-pid"):args.index("--hih-parent-pid") + 2]
    return args[3:]  # after `python -m pytest`


def test_a_run_process_looks_up_entry_points_once_and_registers_its_plugins_in_order(tmp_path: Path) -> None:
    args = _run_args(tmp_path, workers=1)
    named = [args[i + 1] for i, a in enumerate(args) if a == "-p" and not args[i + 1].startswith("no:")]
    looked, registered, code, uvicorn = _probe(args)
    assert code == 0
    assert registered == named, "every plugin of the command line, in its order"
    assert looked == 1, "only for harness.run.lean itself (ten lookups before)"
    assert not uvicorn, "the insurance mock is served by the lean server: uvicorn is not imported at collection"


def test_xdist_named_after_it_is_loaded_too(tmp_path: Path) -> None:
    args = _run_args(tmp_path, workers=2)
    looked, registered, code, _ = _probe(args)
    assert code == 0
    assert "xdist.plugin" in registered and registered.index("xdist.plugin") > registered.index("harness.run.deadline")
    assert looked == 1
