"""Real `hih run`s of the project's features whose report directories several tests read, run once per test
process. Under pytest-xdist every test that reads one is sent to the same worker (`xdist_group`, with
`--dist loadgroup` in ./scripts/test), so that each run happens once in the whole suite, not once per worker.
A test that reads both runs is in the group of both: they are one group.

What a run printed and its exit code are kept beside its report directory (`console_of`), for tests that check them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import ROOT

CONNECTORS = "tests.data.connectors."
FAILING = {
    "insurance": f"{CONNECTORS}unsigned_connector:make",
    "blood-center": f"{CONNECTORS}blood_center_return_unreceived:make",
    "mch-platform": f"{CONNECTORS}mch_no_id_check_connector:make",
    "lis": f"{CONNECTORS}hl7_wrong_ack_accepted:make_lis",
    "pacs": f"{CONNECTORS}hl7_wrong_ack_accepted:make_pacs",
}
"""The failing run's connectors: a planted defect on every interface (tests/run/test_defects_specific.py checks
that each fails its own scenarios and only those)."""


def _run(directory: Path, **options: object) -> Path:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    code = run(RunOptions(features_dir=ROOT / "features", report_dir=directory, **options), console)  # type: ignore[arg-type]
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    directory.with_name(CONSOLE).write_text(json.dumps({"code": code, "printed": printed}), encoding="utf-8")
    return directory


CONSOLE = "console.json"


def console_of(report_dir: Path) -> tuple[int, str]:
    """The exit code of the run that wrote this report directory, and what it printed."""
    kept = json.loads(report_dir.with_name(CONSOLE).read_text(encoding="utf-8"))
    return int(kept["code"]), str(kept["printed"])


@pytest.fixture(scope="session")
def parallel_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of a passing run of every project feature on two workers."""
    return _run(tmp_path_factory.mktemp("parallel") / "reports", workers=2, operator="张工", release="HIS 5.2.1")


@pytest.fixture(scope="session")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of a run of every project feature with a defective connector on each interface (the
    insurance one is refused by the platform: tracebacks in every log)."""
    return _run(tmp_path_factory.mktemp("failing") / "reports", connectors=FAILING)


FULL_RUNS = ("parallel_run", "failing_run")


def group_of(item: pytest.Item) -> str | None:
    """The group of a test that reads a full run, by fixture or by a parameter naming one."""
    names = list(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names += [value for value in callspec.params.values() if isinstance(value, str)]
    return "full_runs" if any(name in FULL_RUNS for name in names) else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
