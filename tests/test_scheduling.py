"""The suite's own scheduling (tests/scheduling.py): under `--dist loadgroup` the tests of one `xdist_group` run on
one worker, so that a shared `hih run` (tests/full_runs.py) happens once in the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from _pytest.nodeid import coerce_node_id

from tests.conftest import ROOT
from tests.scheduling import SERIAL_FILES_ENV, grouped_nodeid

SUITE = '''
import os
from pathlib import Path

import pytest

OUT = Path(os.environ["WHERE_OUT"])


def record(name: str) -> None:
    with OUT.open("a", encoding="utf-8") as f:
        f.write(f"{name} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(3))
def test_first(n: int) -> None:
    record(f"shared-{n}")


@pytest.mark.parametrize("n", range(20))
def test_middle(n: int) -> None:
    record(f"free-{n}")


@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("n", range(3, 6))
def test_last(n: int) -> None:
    record(f"shared-{n}")
'''


SERIAL = '''
import pytest


@pytest.mark.serial
def test_timed() -> None:
    pass


def test_free() -> None:
    pass
'''


def run_suite(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on two xdist workers over the suite written in tmp_path, with tests/scheduling.py as its plugin."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.scheduling"]\n'
                                          'def pytest_configure(config):\n'
                                          '    config.addinivalue_line("markers", "serial: alone")\n', encoding="utf-8")
    environment = {**os.environ, **env,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if SERIAL_FILES_ENV not in env:  # the outer ./scripts/test's
        environment.pop(SERIAL_FILES_ENV, None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:randomly",
                           "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path), *args,
                           str(tmp_path)], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_group_runs_on_one_worker_and_the_serial_tests_files_are_named(tmp_path: Path) -> None:
    """Grouped tests first and last in the collection order: dealt in order as plain tests, they would be split
    between the two workers. The parallel pass (`-m "not serial"`) names the files that hold serial tests: what
    ./scripts/test's serial pass then collects, instead of the whole suite."""
    (tmp_path / "test_where.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "test_timed.py").write_text(SERIAL, encoding="utf-8")
    out, listed = tmp_path / "where.txt", tmp_path / "serial-files.txt"
    done = run_suite(tmp_path, "-m", "not serial", WHERE_OUT=str(out), **{SERIAL_FILES_ENV: str(listed)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "27 passed" in done.stdout, "the serial test deselected"
    assert listed.read_text(encoding="utf-8").splitlines() == ["test_timed.py"]

    workers: dict[str, set[str]] = defaultdict(set)
    for line in out.read_text(encoding="utf-8").splitlines():
        name, worker = line.split()
        workers["shared" if name.startswith("shared") else name].add(worker)
    assert len(workers) == 21, "every test ran"
    assert len(workers["shared"]) == 1, f"the group was split: {workers['shared']}"
    assert len(set().union(*workers.values())) == 2, "both workers had work"


def test_the_grouped_node_id_is_what_the_scheduler_splits_and_pytest_keeps() -> None:
    nodeid = "tests/run/test_x.py::test_y[a@b-c]"
    grouped = grouped_nodeid(nodeid, "full_runs")
    assert grouped == f"{nodeid}@full_runs"
    assert grouped_nodeid(grouped, "full_runs") == grouped, "never suffixed twice"
    assert str(coerce_node_id(grouped)) == grouped
    assert grouped_nodeid("tests/a.py::test_b", "g") == "tests/a.py::test_b@g"

