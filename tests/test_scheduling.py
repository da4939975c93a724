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
from tests.scheduling import grouped_nodeid

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


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    """Grouped tests first and last in the collection order: dealt in order as plain tests, they would be split
    between the two workers."""
    (tmp_path / "test_where.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.scheduling"]\n', encoding="utf-8")
    out = tmp_path / "where.txt"
    env = {**os.environ, "WHERE_OUT": str(out),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup", "-p", "no:randomly",
                           "-p", "no:cacheprovider", "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr

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
