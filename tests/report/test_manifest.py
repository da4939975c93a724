"""manifest.json and `hih report verify DIR`: every file's SHA-256, the contract and connector versions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.manifest import sha256_folder, write_manifest
from tests.conftest import CONTRACTS

SUMMARY = {"decision": "pass", "started": "2026-11-22T09:00:00+08:00", "finished": "2026-11-22T09:00:05+08:00",
           "interfaces": {"insurance": {"contract": "2024.1", "connector": "connectors.insurance:reference"}}}


@pytest.fixture
def signed(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    for name, text in {"summary.json": "{}\n", "junit.xml": "<testsuites/>\n", "report.html": "<html></html>\n",
                       "cucumber.json": "[]"}.items():
        (folder / name).write_text(text, encoding="utf-8")
    write_manifest(folder, SUMMARY, {"insurance": CONTRACTS / "insurance" / "2024.1"})
    return folder


def test_the_manifest_lists_every_file_and_what_produced_them(signed: Path) -> None:
    manifest = json.loads((signed / "manifest.json").read_text(encoding="utf-8"))

    assert set(manifest["files"]) == {"summary.json", "junit.xml", "report.html", "cucumber.json"}
    assert manifest["files"]["summary.json"]["sha256"] == hashlib.sha256(b"{}\n").hexdigest()
    assert manifest["hih"] and manifest["decision"] == "pass"
    [contract] = manifest["contracts"]
    assert (contract["interface"], contract["version"]) == ("insurance", "2024.1")
    assert contract["sha256"] == sha256_folder(CONTRACTS / "insurance" / "2024.1")[0]
    [connector] = manifest["connectors"]
    assert connector["spec"] == "connectors.insurance:reference"
    module = Path(__file__).resolve().parents[2] / "connectors" / "insurance.py"
    assert connector["sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()


def test_a_folder_hash_is_what_sha256sum_lists(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.json").write_bytes(b"x")
    (tmp_path / "a.yaml").write_bytes(b"a")
    listing = (f"{hashlib.sha256(b'a').hexdigest()}  a.yaml\n"
               f"{hashlib.sha256(b'x').hexdigest()}  b/x.json\n")
    assert sha256_folder(tmp_path) == (hashlib.sha256(listing.encode()).hexdigest(), 2)


def test_an_unchanged_directory_verifies(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "verify", str(signed)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("verified 4 files") and hashlib.sha256((signed / "manifest.json").read_bytes()).hexdigest() in out


def test_a_tampered_directory_lists_each_difference(signed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (signed / "report.html").write_text("<html>edited</html>\n", encoding="utf-8")
    (signed / "junit.xml").unlink()
    (signed / "extra.txt").write_text("added later", encoding="utf-8")

    assert main(["report", "verify", str(signed)]) == 1
    assert capsys.readouterr().out.splitlines() == ["added: extra.txt", "missing: junit.xml", "changed: report.html"]


def test_no_manifest_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "verify", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no manifest.json" in err
    (tmp_path / "manifest.json").write_text("[]", encoding="utf-8")
    assert main(["report", "verify", str(tmp_path)]) == 2
    assert "not a hih manifest" in capsys.readouterr().err
