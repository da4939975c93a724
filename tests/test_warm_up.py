"""The first check's warm-up (tests/warm_up.py, run by scripts/test in a fresh clone): what it fills is what the
runs then read (the parse cache's entries for the contract's YAML, its checks' verdicts and the features' Gherkin, hits afterwards), it
names the HL7 versions whose standard modules it imported, the Unicode tables it writes are the ones a process drawing
text in the same directory then reads instead of working them out, and a contract or feature file that does not load is
counted and left to the tests, never raised."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import feature_cache
from harness.contract import parse_cache
from harness.contract.hl7 import standard
from harness.contract.loader import load_contract
from harness.contract.source import load_source
from tests.parse_cache_dirs import entries, own_cache
from tests.warm_up import ROOT, warm_up

LIS = ROOT / "contracts" / "lis" / "2024.1"


def test_it_fills_the_parse_cache_the_runs_read_and_imports_the_hl7_standard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = own_cache(tmp_path, monkeypatch)
    contracts = tmp_path / "contracts"
    shutil.copytree(LIS, contracts / "lis" / "2024.1")
    (contracts / "lis" / "broken").mkdir()
    (contracts / "lis" / "broken" / "contract.yaml").write_text("interface: [unclosed\n", encoding="utf-8")
    features = tmp_path / "features"
    features.mkdir()
    good = features / "good.feature"
    good.write_text("Feature: 对账\n  Scenario: 一次\n    Given 一个步骤\n", encoding="utf-8")
    (features / "bad.feature").write_text("this is no Gherkin\n  Scenario without a feature\n", encoding="utf-8")
    monkeypatch.delitem(sys.modules, "hl7apy.v2_5_1", raising=False)
    standard.segments.cache_clear()  # kept per process: another test of this worker may have asked already

    done = warm_up(contracts, (features,))

    assert (done.contracts, done.features, done.refused) == (1, 1, 2)
    assert done.hl7_versions == ("2.5.1",)
    assert "hl7apy.v2_5_1" in sys.modules
    yaml_files = sorted((contracts / "lis" / "2024.1").rglob("*.yaml"))
    filled = set(entries(cache))
    # every YAML file of the contract, the good feature, and the contract checks that passed (harness.contract.verdicts)
    assert len(filled) > len(yaml_files) + 1
    for path in yaml_files:  # each is now a hit: what load_source keeps for that exact text
        assert parse_cache.get(path.read_text(encoding="utf-8")) is not None
        load_source(path)
    name = parse_cache.key(good.read_text(encoding="utf-8"), feature_cache.KIND, "gherkin")
    assert parse_cache.read(name) == feature_cache.gherkin_data(good.read_text(encoding="utf-8"))
    load_contract(contracts / "lis" / "2024.1")  # as a run loads it: its parses and its checks' verdicts all hits
    assert set(entries(cache)) == filled  # reading them back wrote nothing new


DRAWS_TEXT = """
import types
from hypothesis import strategies as st
from hypothesis.internal import charmap
charmap.sys = types.SimpleNamespace(maxunicode=0xFFFF)  # a table this process worked out itself would end there
st.characters(codec="utf-8").validate()
encodable, _ = charmap.intervals_from_codec("utf-8")
print(max(end for _, end in encodable.intervals), max(end for pairs in charmap.charmap().values() for _, end in pairs))
"""
"""What the tests' text strategies ask for (tests/mocks/hostile.py), in a process that could work out only the
Basic Multilingual Plane."""


def python(code: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_unicode_tables_it_writes_are_read_by_a_process_that_draws_text(tmp_path: Path) -> None:
    assert python(DRAWS_TEXT, tmp_path) == "65535 65535"  # nothing written yet: this process's own, cut short
    shutil.rmtree(tmp_path / ".hypothesis")

    assert python("from tests.warm_up import unicode_tables; print(unicode_tables())", tmp_path) == "True"
    assert (tmp_path / ".hypothesis" / "unicode_data").is_dir()

    assert python(DRAWS_TEXT, tmp_path) == f"{sys.maxunicode} {sys.maxunicode}"  # the warm-up's, read back
