"""hih.toml `[insurance.regions]`: the transaction variants a region's platform uses, checked when read and against
the contract when a connector is bound; and a whole insurance run in a region that uses the A forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import load_config
from harness.contract.loader import ContractStore
from harness.errors import UsageError
from harness.insurance_regions import InsuranceConfig, parse_insurance, region_variants
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "hih.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_longest_matching_region_wins(tmp_path: Path) -> None:
    config = load_config(cwd=write(tmp_path, '[insurance.regions]\n"51" = ["2203A", "2206A", "2207A"]\n'
                                              '"510100" = ["2207A"]\n"*" = []\n')).insurance

    assert config.variants_for("510100") == ("2207A",)
    assert config.variants_for("510700") == ("2203A", "2206A", "2207A")
    assert config.variants_for("330100") == ()
    assert InsuranceConfig().variants_for("510100") == ()


@pytest.mark.parametrize(("text", "message"), [
    ('[insurance]\nregion = "51"\n', "[insurance] unknown key 'region' (known: regions)"),
    ('[insurance.regions]\n"5" = ["2207A"]\n', "[insurance.regions] '5': a region is a 2-, 4- or 6-digit"),
    ('[insurance.regions]\n"51" = "2207A"\n', "[insurance.regions] 51: a list of variant transactions"),
    ('[insurance.regions]\n"51" = ["2207"]\n', "[insurance.regions] 51: a list of variant transactions"),
    ('insurance = 3\n', "[insurance] must be a table"),
])
def test_a_wrong_table_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_config(cwd=write(tmp_path, text))

    assert message in str(caught.value) and str(tmp_path / "hih.toml") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_table_parses_alone() -> None:
    assert parse_insurance(Path("x"), {"regions": {"*": ["2207A"]}}).regions == {"*": ("2207A",)}


def test_the_binding_checks_the_variants_against_the_contract(tmp_path: Path, store: ContractStore,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(write(tmp_path, '[insurance.regions]\n"33" = ["2203A", "2207A"]\n'))

    assert region_variants(store.load("insurance", "2025.1"), "330100") == ("2203A", "2207A")
    assert region_variants(store.load("insurance", "2025.1"), "510100") == ()
    with pytest.raises(UsageError, match=r"names 2203A for region 330100, but contract insurance@2024.1 has no such "
                                         r"variant \(its variants: none\)"):
        region_variants(store.load("insurance", "2024.1"), "330100")


def test_hih_run_stops_before_any_scenario_when_the_region_names_a_variant_the_contract_lacks(
        tmp_path: Path) -> None:
    """The check runs before the specs: exit 2 and one line, no report directory, rather than every scenario failing."""
    write(tmp_path, '[insurance.regions]\n"*" = ["2207A"]\n')
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--interface", "insurance", "--contract",
                           "insurance=2024.1", "--report-dir", "out"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("hih: error: hih.toml insurance.regions names 2207A for region "
                                                    "330100, but contract insurance@2024.1 has no such variant (its "
                                                    "variants: none)")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_insurance_specs_pass_in_a_region_that_uses_the_a_forms(tmp_path: Path) -> None:
    """Every insurance scenario, unchanged, against contract 2025.1 with 2203A, 2206A and 2207A in force."""
    write(tmp_path, '[insurance.regions]\n"33" = ["2203A", "2206A", "2207A"]\n')
    reports = tmp_path / "reports"

    done = subprocess.run([str(Path(sys.executable).parent / "hih"), "run", "--interface", "insurance",
                           "--contract", "insurance=2025.1", "--report-dir", str(reports), "--no-signoff-pdf"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HIH_HISTORY": "off", "PYTHONPATH": str(ROOT)})

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    evidence = json.loads((reports / "evidence.json").read_text(encoding="utf-8"))
    seen = {exchange["operation"] for exchanges in evidence.values() for exchange in exchanges}
    assert {"2203A", "2206A", "2207A"} <= seen and not {"2203", "2206", "2207"} & seen
