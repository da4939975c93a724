"""The `hih` command in-process: exit codes, one-line errors, contract list/show/check and validate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import CONTRACTS, DATA, edit, line_of

CAPTURES = DATA / "captures"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    """The single `hih: error: …` line a failure prints, never a traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hih: error: ")
    return lines[0].removeprefix("hih: error: ")


# -- usage errors: exit 2 and one line ---------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "expected"), [
    (["--bogus"], "hih: No such option '--bogus'. (see 'hih --help')"),
    (["run", "--bogus"], "hih run: No such option '--bogus'. Did you mean '--tags'? (see 'hih run --help')"),
    (["hist"], "hih: No such command 'hist'. Did you mean 'history'? (see 'hih --help')"),
    (["contract"], "hih contract: Missing command. (see 'hih contract --help')"),
    ([], "hih: Missing command. (see 'hih --help')"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["run", "--workers", "abc"], "--workers 'abc': expected a number of at least 1, or auto"),
    (["run", "--workers", "0"], "--workers '0': expected a number of at least 1, or auto"),
    (["run", "--scenario-timeout", "0"], "--scenario-timeout must be a number of seconds above 0, not 0"),
    (["run", "--timeout", "soon"], "hih run: Invalid value for '--timeout': 'soon' is not a valid float."),
    (["run", "--as-of", "2027-02-30"], "--as-of '2027-02-30': expected a day as YYYY-MM-DD"),
    (["run", "--tags", "@smoke and ("], "--tags '@smoke and (': expected not OR left parenthesis OR identifier"),
    (["run", "--interface", "lab"], "unknown interface 'lab'"),
    (["run", "--contract", "insurance=1999.9"], "--contract insurance=1999.9: unknown version (known: 2023.1, 2024.1, 2025.1)"),
    (["run", "--contract", "insurance"], "--contract 'insurance': expected NAME=VALUE"),
    (["run", "--contract", "insurance=2024.1", "--contract", "insurance=2023.1"], "--contract given twice for 'insurance'"),
    # a connector is imported beside the start of the run's pytest processes (harness/run/runner.py): one interface
    # starts one process, not five, and the error and what the run leaves are the same
    (["run", "--interface", "insurance", "--connector", "insurance=connectors.insurance"],
     "connector 'connectors.insurance' is not of the form module:factory"),
    (["run", "--interface", "insurance", "--connector", "insurance=no_such_hospital.adapter:make"],
     "cannot import 'no_such_hospital.adapter'"),
    (["run", "--interface", "insurance", "--connector", "insurance=connectors.insurance:no_such_factory"],
     "has no callable 'no_such_factory'"),
    (["run", "--connector", "lab=connectors.insurance:reference"], "--connector names unknown interface 'lab'"),
    (["run", "--tags", "@smoke; rm -rf /"], "--tags '@smoke; rm -rf /': use tag names with and, or, not and parentheses"),
    (["contract", "show", "lab"], "unknown interface 'lab'"),
    (["contract", "show", "insurance@2030.1"], "unknown version '2030.1' of insurance"),
    (["contract", "show", "insurance", "--format", "xml"], "--format must be text or json, not 'xml'"),
    (["contract", "check", "/no/such/folder"], "/no/such/folder: no such file or folder"),
    (["validate", "--interface", "insurance"], "Missing argument 'FILE...'"),
    (["validate", "--interface", "lab", str(CAPTURES / "9001-request.json")], "unknown interface 'lab'"),
    (["validate", "--interface", "insurance", "--contract-version", "2019.1", str(CAPTURES / "9001-request.json")],
     "unknown version '2019.1' of insurance"),
    (["mock", "serve", "--port", "insurance=http"], "--port insurance=http: a port is a number from 0 to 65535"),
    (["mock", "serve", "--port", "insurance=70000"], "a port is a number from 0 to 65535"),
    (["mock", "serve", "--port", "lab=8080"], "'lab' is not among the mocks being served (insurance, "),
    (["mock", "serve", "--interface", "lab"], "no mock for interface 'lab'"),
    (["mock", "serve", "--workers", "some"], "--workers some: give a number of processes or auto"),
    (["mock", "serve", "--workers", "0"], "--workers 0: give a number of processes or auto"),
    (["mock", "serve", "--busy-poll-us", "20000"], "--busy-poll-us 20000: give 0 to 10000 (microseconds)"),
    (["mock", "serve", "--busy-poll-us", "-1"], "--busy-poll-us -1: give 0 to 10000 (microseconds)"),
])
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           args: list[str], expected: str) -> None:
    if args[:1] == ["run"]:
        args = [*args, "--report-dir", str(tmp_path / "reports")]
    code, out, err = run_cli(capsys, *args)
    assert code == 2, (out, err)
    assert expected in one_line_error(err)
    assert not (tmp_path / "reports").exists(), "nothing runs before the options are checked"


def test_non_loopback_host_needs_an_admin_token(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIH_ADMIN_TOKEN", raising=False)
    code, _, err = run_cli(capsys, "mock", "serve", "--host", "0.0.0.0")
    assert code == 2
    assert one_line_error(err) == "--host 0.0.0.0 is not loopback: set HIH_ADMIN_TOKEN so the admin API asks for it"


def test_mock_serve_on_a_port_already_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(capsys, "mock", "serve", "--port", f"insurance={port}")

    assert code == 2
    message = one_line_error(err)
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: ") and "in use" in message


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == ["run", "load", "validate", "history", "proxy", "compare", "contract", "mock", "report"]


def test_help_of_a_command_names_its_options_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", "--help")
    assert code == 0 and out.startswith("Usage: hih run [OPTIONS]")
    words = " ".join(out.split())
    assert "--interface NAME" in words and "--report-dir DIR where the reports go [default: reports/latest]" in words


def test_help_imports_no_command(tmp_path: Path) -> None:
    """`hih --help` loads the command line and nothing the commands use (each costs start-up time)."""
    probe = ("import sys; from harness.cli import main; code = main(['--help']); "
             "print(code, sorted(m for m in sys.modules if m.startswith(('harness.run', 'harness.report', 'rich', "
             "'typer', 'pydantic', 'pytest', 'mocks', 'connectors', 'lxml', 'jsonschema'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 []"


# -- contract list / show / check --------------------------------------------------------------------------------
def test_contract_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "contract", "list", "--contracts-dir", str(CONTRACTS), "--as-of", "2026-11-22")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"contracts in {CONTRACTS} (as of 2026-11-22)"
    start = next(i for i, line in enumerate(lines) if line.startswith("  insurance  "))
    assert "http-json" in lines[start]
    assert lines[start + 1:start + 4] == ["    2023.1     superseded (in force from 2023-01-01)",
                                          "    2024.1     superseded (in force from 2024-03-01)",
                                          "    2025.1     in force since 2025-07-01 (default)"]


def test_contract_list_of_an_empty_root(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "contract", "list", "--contracts-dir", str(tmp_path), "--as-of", "2026-11-22")
    assert code == 0 and out.strip() == f"contracts in {tmp_path} (as of 2026-11-22)"


def test_contract_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "contract", "show", "insurance@2023.1")
    assert code == 0
    assert out.splitlines()[0].startswith("insurance@2023.1  国家医疗保障信息平台")
    assert "signing tif: x-tif-paasid, x-tif-timestamp, x-tif-nonce, x-tif-signature (max skew 300 s)" in out
    assert "  2207  门诊结算 (Outpatient settlement)  /fsi/api/outpatientSettleService/saveSettletmentV2  · write, not idempotent" in out
    assert "rule setl-sum: sum on response of 2206, 2207, 2208" in out
    assert "[bold]" not in out


def test_contract_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "contract", "show", "insurance", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["version"] == "2025.1" and document["supersedes"] == "2024.1"
    assert document["operations"]["1101"] == {
        "name": "人员信息获取", "name_en": "Person information query", "path": "fsiPsnInfoService/queryPsnInfo",
        "kind": "query", "idempotent": True, "input": "schemas/1101-input.json", "output": "schemas/1101-output.json"}
    assert document["code_tables"]["flag"] == {"0": "否", "1": "是"}
    assert document["signing"] == "tif"
    assert {r["id"] for r in document["rules"]} == {"psn-no-needs-insuplc", "setl-sum", "medins-setl-id", "reversal-negative"}


def test_contract_check_of_the_shipped_contracts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "contract", "check")
    assert code == 0, err
    assert "ok insurance@2023.1 (12 operations," in out and "ok insurance@2024.1 (12 operations," in out


def test_contract_check_of_a_broken_copy(capsys: pytest.CaptureFixture[str], contract_copy: Path) -> None:
    yaml_file = contract_copy / "contract.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(text.replace('applies_to: ["2206", "2207"]', 'applies_to: ["2206", "2270"]'), encoding="utf-8")
    (contract_copy / "schemas" / "2202-input.json").unlink()

    code, out, err = run_cli(capsys, "contract", "check", str(contract_copy.parent.parent))

    assert code == 2 and "ok " not in out
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert line.startswith(f"{yaml_file}:")
        location, _, message = line.partition(": ")
        assert location.rsplit(":", 1)[1].isdigit() and message
    assert any("schema file 'schemas/2202-input.json' not found" in line for line in lines)
    assert any("names unknown transaction '2270'" in line for line in lines)


def test_contract_check_of_a_single_contract_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "contract", "check", str(CONTRACTS / "insurance" / "2024.1" / "contract.yaml"))
    assert code == 0 and out.startswith("ok insurance@2024.1")


def test_contract_check_names_a_missing_changelog_and_a_supersedes_that_does_not_exist(
        capsys: pytest.CaptureFixture[str], contract_copy: Path) -> None:
    """The copy of 2024.1 stands alone in its interface folder: the 2023.1 it supersedes is not there."""
    (contract_copy / "CHANGELOG.md").unlink()
    yaml_file = contract_copy / "contract.yaml"
    code, out, err = run_cli(capsys, "contract", "check", str(contract_copy.parent))

    assert code == 2 and "ok " not in out
    assert err.splitlines() == [
        (f"{contract_copy / 'CHANGELOG.md'}: missing: every contract version records its policy document, date and "
        "changes in CHANGELOG.md"),
        (f"{yaml_file}:{line_of(yaml_file, 'supersedes:')}: supersedes '2023.1', which is not a version of insurance "
        "(known: none)")]


def test_contract_check_refuses_an_effective_date_before_the_release(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    copy = tmp_path / "insurance"
    shutil.copytree(CONTRACTS / "insurance", copy)
    yaml_file = copy / "2024.1" / "contract.yaml"
    edit(yaml_file, 'effective: "2024-03-01"', 'effective: "2024-02-01"')
    code, _, err = run_cli(capsys, "contract", "check", str(copy))
    assert code == 2
    assert one_line_error_free(err) == [(f"{yaml_file}:{line_of(yaml_file, 'effective:')}: effective 2024-02-01 is "
                                        "before released 2024-03-01: a version is in force once published")]


def one_line_error_free(err: str) -> list[str]:
    assert "Traceback" not in err
    return err.strip().splitlines()


def test_contract_check_of_a_folder_without_contracts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "contract", "check", str(tmp_path))
    assert code == 2 and one_line_error(err) == f"{tmp_path}: no contract.yaml found"


def test_a_broken_contract_under_run_is_exit_2(capsys: pytest.CaptureFixture[str], contract_copy: Path, tmp_path: Path) -> None:
    (contract_copy / "schemas" / "2202-input.json").unlink()
    code, _, err = run_cli(capsys, "run", "--contracts-dir", str(contract_copy.parent.parent),
                           "--report-dir", str(tmp_path / "reports"))
    assert code == 2
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"hih: error: {contract_copy / 'contract.yaml'}:")


def test_a_contract_only_its_check_refuses_under_run_is_exit_2(capsys: pytest.CaptureFixture[str], contract_copy: Path,
                                                               tmp_path: Path) -> None:
    """The run's pytest processes take the run's own check of its contracts (`--hih-contracts-checked`) instead of
    checking again: a fault only that check finds still ends the run with exit 2 and the check's one line."""
    schema = contract_copy / "schemas" / "9001-input.json"
    document = json.loads(schema.read_text(encoding="utf-8"))
    document["properties"]["signIn"]["properties"]["ip"]["type"] = 12  # not a JSON Schema type
    schema.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    code, _, err = run_cli(capsys, "run", "--contracts-dir", str(contract_copy.parent.parent), "--no-signoff-pdf",
                           "--report-dir", str(tmp_path / "reports"))

    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"hih: error: {schema}:") and "invalid JSON Schema" in last, last
    assert not (tmp_path / "reports").exists()


# -- validate ----------------------------------------------------------------------------------------------------
def test_validate_valid_captures(capsys: pytest.CaptureFixture[str]) -> None:
    files = [CAPTURES / "2207-request.json", CAPTURES / "1101-response.json", CAPTURES / "gateway-error.json"]
    code, out, _ = run_cli(capsys, "validate", "--interface", "insurance", *map(str, files))
    assert code == 0
    assert out.splitlines() == [f"{files[0]}: ok request 2207", f"{files[1]}: ok response 1101",
                                f"{files[2]}: ok gateway_error"]


def test_validate_invalid_capture(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = json.loads((CAPTURES / "2207-request.json").read_text(encoding="utf-8"))
    del body["input"]["data"]["pub_hosp_rfom_flag"]
    body["input"]["data"]["med_type"] = "99"
    capture = tmp_path / "2207-bad.json"
    capture.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")

    code, out, _ = run_cli(capsys, "validate", "--interface", "insurance", str(capture), str(CAPTURES / "9001-request.json"))

    assert code == 1
    assert out.splitlines() == [
        f"{capture}: ERROR /input/data/med_type '99' is not one of ['11', '12', '13', '14', '21', '51', '52']",
        f"{capture}: ERROR /input/data/pub_hosp_rfom_flag required field is missing",
        f"{CAPTURES / '9001-request.json'}: ok request 9001",
    ]

    code, out, _ = run_cli(capsys, "validate", "--interface", "insurance", "--contract-version", "2023.1", str(capture))
    assert code == 1 and "pub_hosp_rfom_flag" not in out, "2023.1 does not require the flag"


def test_validate_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    capture = tmp_path / "refusal.json"
    capture.write_text(json.dumps({"infcode": -1, "refmsg_time": "20240301120000000", "respond_time": "20240301120000001"}))
    code, out, _ = run_cli(capsys, "validate", "--interface", "insurance", str(capture))
    assert code == 0
    assert out.strip() == f"{capture}: WARNING /err_msg a failure should say why in err_msg"


def test_validate_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    capture = tmp_path / "cut.json"
    capture.write_bytes(b'{"infcode":0,"output":{')
    code, out, _ = run_cli(capsys, "validate", "--interface", "insurance", str(capture))
    assert code == 1 and out.startswith(f"{capture}: ERROR / invalid JSON at line 1")


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "validate", "--interface", "insurance", str(tmp_path / "nowhere.json"))
    assert code == 2
    assert one_line_error(err) == f"{tmp_path / 'nowhere.json'}: cannot read (No such file or directory)"


# -- the installed console script --------------------------------------------------------------------------------
def test_installed_console_script() -> None:
    hih = Path(sys.executable).with_name("hih")
    executable = str(hih) if hih.exists() else shutil.which("hih")
    assert executable, "the hih console script is installed with the package"

    listed = subprocess.run([executable, "contract", "list"], capture_output=True, text=True, timeout=30)
    wrong = subprocess.run([executable, "run", "--workers", "many"], capture_output=True, text=True, timeout=30)

    assert listed.returncode == 0 and "    2025.1     in force since 2025-07-01 (default)" in listed.stdout
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.startswith("hih: error: --workers 'many': expected a number of at least 1, or auto")
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("given", ["abc", "0", "-1", "inf"])
def test_a_grace_in_the_environment_that_is_no_seconds_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str) -> None:
    """HIH_SCENARIO_GRACE_S is read by every pytest process of a run: a value that is no number of seconds is said in
    one line before anything runs, not as a run that stops before its first scenario."""
    monkeypatch.setenv("HIH_SCENARIO_GRACE_S", given)
    code, out, err = run_cli(capsys, "run", "--interface", "insurance", "--report-dir", str(tmp_path / "reports"))
    assert code == 2, (out, err)
    assert one_line_error(err) == f"HIH_SCENARIO_GRACE_S={given}: give a number of seconds above 0"
    assert not (tmp_path / "reports").exists()
