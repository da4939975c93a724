"""hih.toml: optional, checked, one-line errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import CONFIG_ENV, MaskingConfig, load_config
from harness.errors import UsageError


def test_no_file_means_the_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = load_config(cwd=tmp_path)
    assert config.path is None and config.masking == MaskingConfig()


def test_hih_toml_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    (tmp_path / "hih.toml").write_text(
        '[masking]\njson = ["**/opter_name", "/input/data/ipt_otp_no"]\nxml = ["//MotherName"]\nhl7 = ["PID-3.1"]\n'
        "text = ['OTP(\\d+)']\nexclude = [\"name\"]\n", encoding="utf-8")

    config = load_config(cwd=tmp_path)

    assert config.path == tmp_path / "hih.toml"
    assert config.masking == MaskingConfig(json=("**/opter_name", "/input/data/ipt_otp_no"), xml=("//MotherName",),
                                           hl7=("PID-3.1",), text=(r"OTP(\d+)",), exclude=("name",))


def test_hih_config_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[masking]\ndefaults = false\n", encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config(cwd=tmp_path / "nowhere").masking.defaults is False
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(UsageError, match="missing.toml: no such file"):
        load_config()


@pytest.mark.parametrize(("text", "message"), [
    ("[masking\n", "not valid TOML"),
    ("[maskng]\n", "unknown table or key 'maskng'"),
    ("[masking]\njsn = []\n", r"\[masking\] unknown key 'jsn'"),
    ("[masking]\njson = 'certno'\n", "json must be a list of non-empty strings"),
    ("[masking]\nhl7 = ['PID3']\n", "hl7 'PID3': expected SEG-FIELD"),
    ("[masking]\ntext = ['(unclosed']\n", "not a regular expression"),
    ("[masking]\ndefaults = 'yes'\n", "defaults must be true or false"),
    ("[masking]\nxml = ['//']\n", "names no field"),
])
def test_problems_are_one_line_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    (tmp_path / "hih.toml").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message) as caught:
        load_config(cwd=tmp_path)
    assert "\n" not in str(caught.value) and "hih.toml" in str(caught.value)


def test_the_signoff_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    (tmp_path / "hih.toml").write_text(
        '[signoff]\nhospital = "示例市第一人民医院"\nvendor = "示例软件"\ndepartments = { lis = "检验科" }\n', encoding="utf-8")
    signoff = load_config(cwd=tmp_path).signoff
    assert (signoff.hospital, signoff.vendor, signoff.information_department) == ("示例市第一人民医院", "示例软件", "信息科")
    assert signoff.departments == {"lis": "检验科"}


@pytest.mark.parametrize(("text", "message"), [
    ("[signoff]\nhospitl = 'x'\n", "\\[signoff\\] unknown key 'hospitl'"),
    ("[signoff]\nhospital = 1\n", "\\[signoff\\] hospital must be a string"),
    ("[signoff]\ndepartments = ['lis']\n", "\\[signoff\\] departments must be a table"),
    ("signoff = 1\n", "\\[signoff\\] must be a table"),
])
def test_a_bad_signoff_table_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hih.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_config(path)
