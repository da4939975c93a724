"""The reports of a real `hih run`: cucumber.json complete under workers, no identifier unmasked anywhere, a
manifest that verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.report.manifest import differences
from harness.report.masking import _trie_regex
from mocks.population import generate

IDENTIFIERS = ("certno", "psn_name", "card_no", "card_sn", "ec_token", "psn_no")


def test_cucumber_json_under_two_workers_has_every_scenario(parallel_run: Path) -> None:
    """pytest-bdd 9 writes [] under xdist; the plugin carries the scenario data across (pinned pytest-bdd==9.0.*)."""
    summary = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))
    features = json.loads((parallel_run / "cucumber.json").read_text(encoding="utf-8"))

    def status(element: dict[str, object]) -> str:
        steps = [s["result"]["status"] for s in element["steps"]]  # type: ignore[attr-defined, index]
        return "failed" if "failed" in steps else "skipped" if steps and set(steps) == {"skipped"} else "passed"

    written = {e["id"]: status(e) for f in features for e in f["elements"]}
    expected = {s["nodeid"].rsplit("::", 1)[-1]: s["status"] for s in summary["scenarios"]}
    assert summary["workers"] == 2 and len(expected) >= 60
    assert written == expected
    assert all(f["language"] == "zh-CN" and f["keyword"] == "功能" for f in features)
    uris = [f["uri"] for f in features]
    assert uris == sorted(uris), "in file order, as a serial run writes it"


def _unmasked(directory: Path) -> list[str]:
    texts = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            texts[path.name] = text
            if path.suffix == ".json":  # cucumber.json escapes non-ASCII text
                texts[f"{path.name} (decoded)"] = json.dumps(json.loads(text), ensure_ascii=False)
    values = {getattr(p, f) for p in generate() for f in IDENTIFIERS}
    anywhere = re.compile(_trie_regex(values))  # one pass over each text for all 1,200 values
    return [f"{name}: {m.group(0)}" for name, text in texts.items() for m in anywhere.finditer(text)]


@pytest.mark.parametrize("run", ["parallel_run", "failing_run"])
def test_no_seeded_identifier_reaches_any_artefact(run: str, request: pytest.FixtureRequest) -> None:
    directory: Path = request.getfixturevalue(run)
    names = {p.name for p in directory.iterdir()}
    assert {"summary.json", "junit.xml", "cucumber.json", "report.html", "evidence.json", "events.jsonl",
            "pytest.log", "manifest.json"} <= names
    assert _unmasked(directory) == []


def test_the_run_manifest_verifies(parallel_run: Path) -> None:
    lines, count, _ = differences(parallel_run)
    assert lines == [] and count >= 7
    manifest = json.loads((parallel_run / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))
    pairs = [(c["interface"], c["version"]) for c in manifest["contracts"]]
    assert sorted(pairs) == sorted((name, row["contract"]) for name, row in summary["interfaces"].items())
    assert ("insurance", "2025.1") in pairs
    assert manifest["contracts"][0]["sha256"] and manifest["connectors"][0]["sha256"]
