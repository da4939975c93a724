"""`hih report merge`: shard report directories into one, with one gate decision. Five shards (one per interface)
merge into what one run of all five writes: the same decision, counts, scenarios, junit cases and cucumber
elements. (Both sides run the scenarios tagged @smoke or @policy, which every interface has, to keep the six runs
short; the merge does not look at tags. The shards, as in CI, and the full run write no sign-off PDF: the merge
makes its own. The full run is one pytest process, as each shard is: a process per
interface would cost more CPU than its few scenarios, and tests/run/test_parallel.py shows that the sharing of
scenarios among processes does not change what a run reports.)"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rich.console import Console

from harness.cli import main
from harness.report.manifest import verify
from harness.run.history import query
from harness.run.options import RunOptions
from harness.run.runner import run
from tests.conftest import DATA, ROOT

FEATURES = DATA / "features"
TAGS = "@smoke or @policy"


def gate(report_dir: Path, **options: Any) -> int:
    return run(RunOptions(report_dir=report_dir, **options), Console(file=io.StringIO(), width=120, color_system=None))


def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def scenarios(document: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [(s["interface"], s["feature"], s["name"], s["nodeid"], s["status"]) for s in document["scenarios"]]


def rows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in row.items() if k not in ("duration_s", "wall_s")}
            for name, row in document["interfaces"].items()}


def junit_cases(folder: Path) -> Counter[tuple[str, str, str]]:
    root = etree.parse(str(folder / "junit.xml")).getroot()
    return Counter((c.get("classname", ""), c.get("name", ""),
                    next((child.tag for child in c if child.tag in ("failure", "error", "skipped")), "passed"))
                   for c in root.iter("testcase"))


def cucumber(folder: Path) -> list[tuple[str, str, tuple[str, ...]]]:
    features = json.loads((folder / "cucumber.json").read_text(encoding="utf-8"))
    return sorted((f["uri"], e["id"], tuple(s["result"]["status"] for s in e["steps"]))
                  for f in features for e in f["elements"])


@pytest.mark.slow
def test_five_shards_merge_into_what_one_full_run_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HIH_HISTORY", "off")
    features = ROOT / "features"
    assert gate(tmp_path / "full", features_dir=features, tags=TAGS, workers=1, signoff_pdf=False) == 0
    full = summary(tmp_path / "full")
    shards = []
    for name in full["interfaces"]:
        shards.append(tmp_path / "shards" / name)
        assert gate(shards[-1], features_dir=features, interfaces=[name], tags=TAGS, signoff_pdf=False) == 0
    assert len(shards) == 5 and all(row["passed"] for row in full["interfaces"].values())
    assert not [s for s in shards if (s / "signoff.pdf").exists()] and all((s / "signoff.html").is_file() for s in shards)

    assert main(["report", "merge", *map(str, shards), "--into", str(tmp_path / "merged")]) == 0
    printed = capsys.readouterr().out
    merged_dir = tmp_path / "merged"
    merged = summary(merged_dir)

    assert merged["decision"] == full["decision"] == "pass" and "GATE OPEN" in printed
    assert merged["totals"] == full["totals"]
    assert rows(merged) == rows(full)
    assert scenarios(merged) == scenarios(full)
    assert junit_cases(merged_dir) == junit_cases(tmp_path / "full")
    assert cucumber(merged_dir) == cucumber(tmp_path / "full")
    evidence = json.loads((merged_dir / "evidence.json").read_text(encoding="utf-8"))
    assert set(evidence) == set(json.loads((tmp_path / "full" / "evidence.json").read_text(encoding="utf-8")))
    assert [s["folder"] for s in merged["shards"]] == [str(s) for s in shards]
    assert (merged_dir / "report.html").is_file()
    assert verify(merged_dir, lambda line: None) == 0
    # one sign-off pack over every shard, its PDF made though no shard made one: each interface's verdict on one
    # sheet, sealed with the merged manifest
    html = (merged_dir / "signoff.html").read_text(encoding="utf-8")
    assert all(name in html for name in full["interfaces"]) and "放行" in html
    manifest_sha = hashlib.sha256((merged_dir / "manifest.json").read_bytes()).hexdigest()
    assert manifest_sha in html
    assert (merged_dir / "signoff.pdf").read_bytes().startswith(b"%PDF")
    assert "signoff.pdf" in (merged_dir / "signoff.sha256").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished shard of the tiny features (insurance), recorded in its own history; no sign-off PDF, as in CI."""
    folder = tmp_path_factory.mktemp("shard") / "reports" / "insurance"
    assert gate(folder, features_dir=FEATURES, workers=1, signoff_pdf=False) == 0
    return folder


def test_a_missing_shard_makes_the_merge_incomplete(shard: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "reports" / "lis"
    assert main(["report", "merge", str(shard), str(missing), "--into", str(tmp_path / "merged"),
                 "--no-signoff-pdf"]) == 2
    out = capsys.readouterr().out
    assert (tmp_path / "merged" / "signoff.html").is_file() and not (tmp_path / "merged" / "signoff.pdf").exists()
    assert verify(tmp_path / "merged", lambda line: None) == 0
    assert f"warning: {missing}: no summary.json (the shard did not write a report)" in out
    assert "GATE NOT DECIDED" in out
    merged = summary(tmp_path / "merged")
    assert merged["decision"] == "incomplete" and merged["totals"] == summary(shard)["totals"]
    assert merged["incomplete"]["reason"] == f"{missing}: no summary.json (the shard did not write a report)"


def test_a_changed_or_repeated_shard_is_refused(shard: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "merge", str(shard), str(shard), "--into", str(tmp_path / "merged")]) == 2
    assert capsys.readouterr().err == f"hih: error: interface 'insurance' is in two shards: {shard} and {shard}\n"

    changed = tmp_path / "changed"
    shutil.copytree(shard, changed)
    (changed / "junit.xml").write_text("<testsuites/>", encoding="utf-8")
    assert main(["report", "merge", str(changed), "--into", str(tmp_path / "merged")]) == 2
    assert capsys.readouterr().err.startswith(f"hih: error: {changed}: changed since hih wrote it (changed: junit.xml)")
    assert not (tmp_path / "merged").exists()

    assert main(["report", "merge", str(shard), "--into", str(shard)]) == 2
    assert "is one of the shards" in capsys.readouterr().err


def test_the_merge_is_recorded_in_the_history_once(shard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In CI the shards' histories are thrown away and the merge records the run; where the shards already recorded
    themselves in the same database, the merge does not record them twice."""
    monkeypatch.delenv("HIH_HISTORY", raising=False)
    copy = tmp_path / "ci" / "downloaded" / "insurance"
    shutil.copytree(shard, copy)
    assert main(["report", "merge", str(copy), "--into", str(tmp_path / "ci" / "merged"), "--no-signoff-pdf"]) == 0
    recorded = query(tmp_path / "ci" / "history.sqlite")
    assert recorded["runs_recorded"] == 1 and recorded["interfaces"]["insurance"]["runs"][0]["gate"] == "pass"

    shard_history = shard.parent / "history.sqlite"
    before = query(shard_history)["runs_recorded"]
    assert main(["report", "merge", str(shard), "--into", str(shard.parent / "merged"), "--no-signoff-pdf"]) == 0
    assert query(shard_history)["runs_recorded"] == before
