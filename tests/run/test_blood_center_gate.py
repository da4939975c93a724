"""`hih run`: the blood centre's reference connector opens the gate, and no artefact shows a patient's name or ID or
the centre's token. Its planted defects are run in tests/run/test_defects_specific.py."""

from __future__ import annotations

import json
from pathlib import Path

from mocks.blood_center.service import TEST_TOKEN


def test_the_reference_connector_opens_the_gate(parallel_run: Path) -> None:
    document = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))

    assert document["decision"] == "pass"
    row = document["interfaces"]["blood-center"]
    assert (row["contract"], row["connector"]) == ("2025.1", "connectors.blood_center:reference")
    assert row["failed"] == 0 and row["skipped"] == 0 and row["passed"] >= 25
    assert len([s for s in document["scenarios"] if s["interface"] == "blood-center"]) == row["passed"]
    for name in ("evidence.json", "report.html", "junit.xml"):
        text = (parallel_run / name).read_text(encoding="utf-8")
        assert "PatientName" in text or name != "evidence.json", "the cross-match answers are in the evidence"
        for secret in ("张秀英", "ZY2025000123", TEST_TOKEN):
            assert secret not in text, f"{secret!r} shows in {name}"
