"""Real `hih run`s of the project's features whose report directories several tests read, run once per test
process. Under pytest-xdist every test that reads one is sent to the same worker (`xdist_group`, with
`--dist loadgroup` in ./scripts/test), so that each run happens once in the whole suite, not once per worker."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import ROOT

DEFECTIVE = "tests.data.connectors.unsigned_connector:make"


def _run(directory: Path, **options: object) -> Path:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    run(RunOptions(features_dir=ROOT / "features", report_dir=directory, **options), console)  # type: ignore[arg-type]
    return directory


@pytest.fixture(scope="session")
def parallel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of a passing run of every project feature on two workers."""
    return _run(tmp_path_factory.mktemp("parallel") / "reports", workers=2, operator="张工", release="HIS 5.2.1")


@pytest.fixture(scope="session")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of a serial run whose connector the platform refuses: tracebacks in every log."""
    return _run(tmp_path_factory.mktemp("failing") / "reports", connectors={"insurance": DEFECTIVE})


FULL_RUNS = ("parallel_run", "failing_run")


def group_of(item: pytest.Item) -> str | None:
    """The full run a test reads, by fixture or by a parameter naming one (the first when it reads several)."""
    names = list(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names += [value for value in callspec.params.values() if isinstance(value, str)]
    return next((name for name in names if name in FULL_RUNS), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
