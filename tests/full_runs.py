"""Real `hih run`s of the project's features whose report directories several tests read, run once per test
process. Under pytest-xdist every test that reads one is sent to the same worker (`xdist_group`, with
`--dist loadgroup` in ./scripts/test), so that each run happens once in the whole suite, not once per worker.
A test that reads both the passing and the failing run is in the group of both: they are one group. The two other
runs of planted defects against every scenario (`DEFECT_RUNS`) are a second group, so that the two groups' runs go
side by side on two workers.

What a run printed and its exit code are kept beside its report directory (`console_of`), for tests that check them.
The passing and the failing run make the sign-off PDF (the sign-off, masking-scan, `report verify` and browser tests
read their packs); the others make none (`hih run --no-signoff-pdf`), as nothing reads one."""

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

LOST_REPLIES = {
    "insurance": f"{CONNECTORS}double_charge_connector:make",
    "blood-center": f"{CONNECTORS}blood_center_unchecked_din:make",
    "mch-platform": f"{CONNECTORS}mch_resend_connector:make",
    "lis": f"{CONNECTORS}hl7_ack_before_store:make_lis",
    "pacs": f"{CONNECTORS}hl7_ack_before_store:make_pacs",
}
MISSING_FIELD = {
    "insurance": f"{CONNECTORS}missing_field_connector:make",
    "blood-center": f"{CONNECTORS}blood_center_double_receipt:make",
    "mch-platform": f"{CONNECTORS}mch_no_renewal_connector:make",
    "lis": f"{CONNECTORS}hl7_duplicate_stored_twice:make_lis",
    "pacs": f"{CONNECTORS}hl7_duplicate_stored_twice:make_pacs",
}
DEFECT_RUNS = {"failing_run": FAILING, "lost_replies_run": LOST_REPLIES, "missing_field_run": MISSING_FIELD}
"""The shared runs of every project feature with a planted defect on each interface, by fixture name. Both
tests/run/test_defects_specific.py (each defect is specific) and tests/run/test_planted_defects.py (each closes the
gate, told in business words) read them; the latter deals only the other defects into runs of its own."""


def _run(directory: Path, *, signoff_pdf: bool, **options: object) -> Path:
    """`signoff_pdf`: whether the run makes signoff.pdf (True for runs whose sign-off PDF a test reads)."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    code = run(RunOptions(features_dir=ROOT / "features", report_dir=directory, signoff_pdf=signoff_pdf,
                          **options), console)  # type: ignore[arg-type]
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
    return _run(tmp_path_factory.mktemp("parallel") / "reports", signoff_pdf=True, workers=2, operator="张工",
                release="HIS 5.2.1")


@pytest.fixture(scope="session")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report directory of a run of every project feature with a defective connector on each interface (the
    insurance one is refused by the platform: tracebacks in every log)."""
    return _run(tmp_path_factory.mktemp("failing") / "reports", signoff_pdf=True, connectors=FAILING)


@pytest.fixture(scope="session")
def lost_replies_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of every project feature with the `LOST_REPLIES` defects."""
    return _run(tmp_path_factory.mktemp("lost-replies") / "reports", signoff_pdf=False, connectors=LOST_REPLIES)


@pytest.fixture(scope="session")
def missing_field_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of every project feature with the `MISSING_FIELD` defects."""
    return _run(tmp_path_factory.mktemp("missing-field") / "reports", signoff_pdf=False, connectors=MISSING_FIELD)


OLDER = {"insurance": "2023.1", "lis": "2023.1", "mch-platform": "2024.1"}
"""The older contract versions still kept, one per interface that has one (insurance's 2024.1, a second older
version of the same interface, cannot share a run: tests/run/test_older_contracts.py runs it)."""


@pytest.fixture(scope="session")
def older_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of the reference connectors on the `OLDER` contract versions, the interfaces that have one together."""
    return _run(tmp_path_factory.mktemp("older") / "reports", signoff_pdf=False, interfaces=list(OLDER),
                contracts=OLDER)


GROUPS = {"parallel_run": "full_runs", "failing_run": "full_runs", "lost_replies_run": "defect_runs",
          "missing_field_run": "defect_runs", "older_run": "older_run"}
"""The xdist group of each shared run: the tests reading the runs of one group go to one worker."""


def group_of(item: pytest.Item) -> str | None:
    """The group of a test that reads a shared run, by fixture or by a parameter naming one."""
    names = list(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        names += [value for value in callspec.params.values() if isinstance(value, str)]
    groups = {GROUPS[name] for name in names if name in GROUPS}
    assert len(groups) <= 1, f"{item.nodeid} reads shared runs of two groups {sorted(groups)}: make them one group"
    return groups.pop() if groups else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
