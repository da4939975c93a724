"""Real `hih run`s of the project's features whose report directories several report tests read (run once each)."""

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
