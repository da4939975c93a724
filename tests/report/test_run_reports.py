"""The reports of a real `hih run`: cucumber.json complete under workers, no identifier unmasked anywhere, a
manifest that verifies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.report.manifest import differences
from tests.conftest import ROOT
from tests.report.identifiers import readable_texts, seeded_names, unmasked


def test_cucumber_json_under_two_workers_has_every_scenario(parallel_run: Path) -> None:
    """pytest-bdd 9 writes [] under xdist; the plugin carries the scenario data across (pinned pytest-bdd==9.0.*)."""
    summary = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))
    features = json.loads((parallel_run / "cucumber.json").read_text(encoding="utf-8"))

    def status(element: dict[str, Any]) -> str:
        steps = [s["result"]["status"] for s in element["steps"]]
        return "failed" if "failed" in steps else "skipped" if steps and set(steps) == {"skipped"} else "passed"

    written = {e["id"]: status(e) for f in features for e in f["elements"]}
    expected = {s["nodeid"].rsplit("::", 1)[-1]: s["status"] for s in summary["scenarios"]}
    assert summary["workers"] == 2 and len(expected) >= 60
    assert written == expected
    assert all(f["language"] == "zh-CN" and f["keyword"] == "功能" for f in features)
    uris = [f["uri"] for f in features]
    assert uris == sorted(uris), "in file order, as a serial run writes it"


@pytest.mark.parametrize("run", ["parallel_run", "failing_run"])
def test_no_patient_identifier_reaches_any_artefact(run: str, request: pytest.FixtureRequest) -> None:
    """Every file of a run of all five interfaces (and of a failing one): no valid resident ID number, no mobile
    number, no seeded patient's full name, whether in messages, step text, scenario names, outline examples or
    node ids."""
    directory: Path = request.getfixturevalue(run)
    names = {p.name for p in directory.iterdir()}
    assert {"summary.json", "junit.xml", "cucumber.json", "report.html", "evidence.json", "events.jsonl",
            "pytest.log", "manifest.json"} <= names
    if run == "parallel_run":
        summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
        assert set(summary["interfaces"]) == {"insurance", "blood-center", "mch-platform", "lis", "pacs"}
    texts = readable_texts(directory)
    assert len(texts) >= len(names)
    assert unmasked(directory, texts) == []


def test_the_scanner_finds_what_the_feature_files_hold() -> None:
    """The scan above is not blind: on the feature files themselves it finds IDs, names and the seeded set."""
    names = seeded_names()
    assert {"张三", "欧阳娜娜", "张秀英", "李秀英", "王小明"} <= names and len(names) > 200
    found = unmasked(ROOT / "features" / "lis") + unmasked(ROOT / "features" / "insurance")
    assert any("张三" in line for line in found) and any("11010519491231002X" in line for line in found)


def test_the_run_manifest_verifies(parallel_run: Path) -> None:
    lines, count, _ = differences(parallel_run)
    assert lines == [] and count >= 7
    manifest = json.loads((parallel_run / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))
    pairs = [(c["interface"], c["version"]) for c in manifest["contracts"]]
    assert sorted(pairs) == sorted((name, row["contract"]) for name, row in summary["interfaces"].items())
    assert ("insurance", "2025.1") in pairs
    assert manifest["contracts"][0]["sha256"] and manifest["connectors"][0]["sha256"]


@pytest.mark.parametrize("run", ["parallel_run", "failing_run"])
def test_the_exchanges_a_run_masked_come_out_the_same_when_masked_again(run: str, request: pytest.FixtureRequest) -> None:
    """report.html shows a run's evidence as the plugin masked it (`evidence_masked`); masking every exchange again by
    the same rules, as for merged shards, gives the same page. Were masking not idempotent on real messages, skipping
    the second pass would show something the first left."""
    from harness.config import load_config
    from harness.report.html import render_html
    from harness.report.masking import Masker

    directory: Path = request.getfixturevalue(run)
    summary = json.loads((directory / "summary.json").read_text(encoding="utf-8"))
    evidence = json.loads((directory / "evidence.json").read_text(encoding="utf-8"))
    assert sum(len(entries) for entries in evidence.values()) > 0

    def page(evidence_masked: bool) -> str:
        masker = Masker.from_config(load_config().masking)
        return render_html(summary, evidence, masker, None, "test", evidence_masked)

    assert page(True) == page(False)
