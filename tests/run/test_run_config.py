"""`[run]` and `[contracts]` in hih.toml: the defaults of `hih run` (flags win), checked with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import CONFIG_ENV, RunConfig, load_config
from harness.errors import UsageError
from harness.run.options import (
    DEFAULT_SCENARIO_TIMEOUT_S,
    RunOptions,
    auto_workers,
    cpu_count,
    parse_workers,
    plan,
)
from tests.conftest import DATA

FEATURES = DATA / "features"


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str) -> None:
    (folder / "hih.toml").write_text(text, encoding="utf-8")


def test_run_and_contracts_tables(here: Path) -> None:
    write(here, '[run]\nworkers = 3\nscenario_timeout = 20\ntimeout = 900.5\n\n[contracts]\ninsurance = " 2023.1 "\n')
    config = load_config()
    assert config.run == RunConfig(workers=3, scenario_timeout_s=20.0, timeout_s=900.5)
    assert config.contracts == {"insurance": "2023.1"}
    write(here, '[run]\nworkers = "auto"\n')
    assert load_config().run == RunConfig()


@pytest.mark.parametrize(("text", "message"), [
    ("[run]\nworkers = 0\n", r'\[run\] workers must be "auto" or a number of at least 1, not 0'),
    ("[run]\nworkers = true\n", r"\[run\] workers must be"),
    ("[run]\nscenario_timeout = -5\n", r"\[run\] scenario_timeout must be a number of seconds above 0, not -5"),
    ("[run]\ntimeout = '1h'\n", r"\[run\] timeout must be a number of seconds above 0, not '1h'"),
    ("[run]\nretries = 2\n", r"\[run\] unknown key 'retries' \(known: scenario_timeout, timeout, workers\)"),
    ("run = 3\n", r"\[run\] must be a table"),
    ('[contracts]\ninsurance = 2024.1\n', r"\[contracts\] insurance must be a version string such as \"2024.1\""),
    ("[report]\nsignoff_pdf = \"no\"\n", r"\[report\] signoff_pdf must be true or false, not 'no'"),
    ("[report]\npdf = false\n", r"\[report\] unknown key 'pdf' \(known: signoff_pdf\)"),
    ("report = false\n", r"\[report\] must be a table"),
    ("[runs]\n", r"unknown table or key 'runs' \(known: contracts, insurance, masking, report, run, signoff\)"),
])
def test_problems_are_one_line_usage_errors(here: Path, text: str, message: str) -> None:
    write(here, text)
    with pytest.raises(UsageError, match=message) as caught:
        load_config()
    assert "\n" not in str(caught.value) and "hih.toml" in str(caught.value)


def test_the_run_takes_hih_toml_defaults_and_flags_win(here: Path) -> None:
    write(here, "[run]\nworkers = 3\nscenario_timeout = 20\ntimeout = 900\n")
    configured = plan(RunOptions(features_dir=FEATURES, report_dir=here / "r"))
    assert (configured.workers, configured.scenario_timeout_s, configured.timeout_s) == (3, 20.0, 900.0)
    flagged = plan(RunOptions(features_dir=FEATURES, report_dir=here / "r", workers="auto", scenario_timeout_s=5,
                              timeout_s=60))
    assert (flagged.workers, flagged.scenario_timeout_s, flagged.timeout_s) == (1, 5, 60)


@pytest.mark.parametrize(("toml", "option", "made"), [
    (None, None, True), ("[report]\n", None, True), ("[report]\nsignoff_pdf = false\n", None, False),
    ("[report]\nsignoff_pdf = false\n", True, True), ("[report]\nsignoff_pdf = true\n", False, False),
    (None, False, False),
])
def test_the_signoff_pdf_from_the_option_else_hih_toml_else_made(here: Path, toml: str | None, option: bool | None,
                                                                 made: bool) -> None:
    if toml is not None:
        write(here, toml)
    assert load_config().report.signoff_pdf is ("signoff_pdf = false" not in (toml or ""))
    assert plan(RunOptions(features_dir=FEATURES, report_dir=here / "r", signoff_pdf=option)).signoff_pdf is made


def test_built_in_defaults(here: Path) -> None:
    checked = plan(RunOptions(features_dir=FEATURES, report_dir=here / "r"))
    assert checked.scenario_timeout_s == DEFAULT_SCENARIO_TIMEOUT_S == 60.0 and checked.timeout_s is None
    assert checked.workers == 1, "one interface: one worker (no xdist start-up for nothing)"
    assert auto_workers(5) == min(5, 3 * cpu_count(), 5) and auto_workers(0) == 1


@pytest.mark.parametrize(("value", "parsed"), [(None, None), ("auto", "auto"), (" AUTO ", "auto"), ("2", 2)])
def test_parse_workers(value: str | None, parsed: object) -> None:
    assert parse_workers(value) == parsed


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_parse_workers_refuses(value: str) -> None:
    with pytest.raises(UsageError, match=f"--workers {value!r}: expected a number of at least 1, or auto"):
        parse_workers(value)
