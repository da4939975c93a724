"""`hih run --interface mch-platform`: the reference connector opens the gate on both contract versions, and no report
artefact shows a mother's, father's or baby's identifiers or the password. Its planted defects are run in
tests/run/test_defects_specific.py."""

from __future__ import annotations

import json
from pathlib import Path

from features.steps.mch_samples import BAD_CHECK_ID, FATHER_ID, MOTHER_ID
from mocks.mch_platform import TEST_PASSWORD
from tests.full_runs import console_of

INTERFACE = "mch-platform"
SECRETS = (MOTHER_ID, FATHER_ID, BAD_CHECK_ID, "李秀英", "王小明", "王建国", "13812345678", "示例路1号", TEST_PASSWORD)


def test_the_reference_connector_opens_the_gate_on_the_older_contract(older_run: Path) -> None:
    """In the suite's shared run of the older contract versions (tests/full_runs.py)."""
    code, printed = console_of(older_run)
    assert code == 0, printed
    check_reference_run(older_run, "2024.1")


def test_the_reference_connector_opens_the_gate_on_the_contract_in_force(parallel_run: Path) -> None:
    check_reference_run(parallel_run, "2025.1")


def check_reference_run(report_dir: Path, version: str) -> None:
    document = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    row = document["interfaces"][INTERFACE]
    assert (row["contract"], row["connector"], row["failed"]) == (version, "connectors.mch_platform:reference", 0)
    assert row["passed"] >= 25
    assert row["skipped"] == 2, "the scenarios of the other contract version are skipped"
    # searched as UTF-8 bytes: what a search of the decoded text finds (UTF-8 is self-synchronising), without decoding
    # and searching ≈ 20 MB of report text per run as str (≈ 2 s of CPU against 0.06 s)
    leaked = {path.name: [v for v in SECRETS if v.encode("utf-8") in data]
              for path in report_dir.rglob("*") if path.is_file() for data in [path.read_bytes()]}
    assert not {k: v for k, v in leaked.items() if v}, "mothers', fathers' and babies' identifiers and the password are masked"
