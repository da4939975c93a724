"""`hih compare` end to end: the smoke scenarios of the insurance specs run with two connectors (two real `hih run`s,
each with its report directory), what they sent compared, the allow-list, the exit code, report.html and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.compare import allow
from harness.compare.command import CompareOptions, build
from harness.compare.report import render

REFERENCE = "connectors.insurance:reference"
UPGRADED = "tests.data.connectors.upgraded_insurance:make"

pytestmark = pytest.mark.slow


def hih_compare(report_dir: Path, old: str, new: str, *more: str, signoff_pdf: bool = False) -> int:
    """`hih compare` of the insurance smoke scenarios; each side's signoff.pdf only when `signoff_pdf`."""
    return main(["compare", "--interface", "insurance", "--connector", f"insurance={old}", "--against",
                 f"insurance={new}", "--report-dir", str(report_dir), "--tags", "@smoke", *more,
                 "--signoff-pdf" if signoff_pdf else "--no-signoff-pdf"])


UPGRADE = pytest.mark.xdist_group("compare_upgrade")
"""The tests that read the `upgraded` comparison: on one xdist worker (`--dist loadgroup`), so that its two runs happen
once, not once on every worker that gets one of them."""


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    folder = tmp_path_factory.mktemp("compare") / "upgrade"
    return hih_compare(folder, REFERENCE, UPGRADED), folder


def test_the_reference_connector_against_itself_changes_nothing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = hih_compare(tmp_path / "same", REFERENCE, REFERENCE, "--format", "json", signoff_pdf=True)

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["decision"] == "same" and document["differences"] == 0 and document["scenarios"] == []
    assert document["scenarios_compared"] >= 4
    assert document["old"]["totals"]["passed"] == document["new"]["totals"]["passed"] > 0
    for side in ("old", "new"):  # each side is a complete report directory of its own
        assert (tmp_path / "same" / side / "summary.json").is_file()
        assert (tmp_path / "same" / side / "signoff.pdf").is_file()


@UPGRADE
def test_a_changed_copy_is_named_by_the_field_it_changed(upgraded: tuple[int, Path]) -> None:
    code, folder = upgraded
    document = json.loads((folder / "compare.json").read_text(encoding="utf-8"))

    assert code == 1
    assert document["decision"] == "differs"
    assert not (folder / "old" / "signoff.pdf").exists() and (folder / "new" / "signoff.html").is_file(), \
        "hih compare --no-signoff-pdf reaches each side's run"
    assert document["scenarios"], "the differing scenarios are listed"
    changed = {(m["transaction"], f["field"], f["old"], f["new"])
               for s in document["scenarios"] for m in s["messages"] for f in m["fields"]}
    assert changed == {("2201", "/input/data/caty", "A03", "A03.01")}
    assert all(not s["verdict"]["changed"] for s in document["scenarios"]), "both pass: only the wire differs"
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "线上报文变化 / What changed on the wire" in page and "/input/data/caty" in page and "A03.01" in page


@UPGRADE
def test_the_text_output_names_scenario_transaction_and_values(upgraded: tuple[int, Path],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    _, folder = upgraded
    from harness.cli import out

    document = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    from harness.compare.command import print_text

    print_text(out, document, folder)
    printed = capsys.readouterr().out
    assert '[2201 #1]: /input/data/caty: "A03" → "A03.01"' in printed
    assert "decision: differs" in printed


@UPGRADE
def test_an_allow_list_entry_with_its_reason_accepts_the_change(upgraded: tuple[int, Path], tmp_path: Path) -> None:
    _, folder = upgraded
    listed = tmp_path / "allow.yaml"
    listed.write_text('- transaction: "2201"\n  field: /input/data/caty\n  reason: 科室编码改报二级科室\n'
                      '- transaction: "2207"\n  reason: 未用到\n', encoding="utf-8")
    entries = allow.load(listed)

    document = build(CompareOptions("insurance", REFERENCE, UPGRADED, report_dir=folder), entries)

    assert document["decision"] == "same" and document["differences"] == 0 and document["allowed"] >= 1
    message = document["scenarios"][0]["messages"][0]
    assert message["allowed"] and message["allowed_because"] == "科室编码改报二级科室"
    assert document["allow_unused"] == [{"line": 4, "reason": "未用到"}]
    assert "已获准 / allowed: 科室编码改报二级科室" in render(document)


@UPGRADE
def test_an_allow_entry_for_another_field_does_not_accept_it(upgraded: tuple[int, Path], tmp_path: Path) -> None:
    _, folder = upgraded
    listed = tmp_path / "allow.yaml"
    listed.write_text('- transaction: "2201"\n  field: /input/data/dept_name\n  reason: 科室名称\n', encoding="utf-8")

    document = build(CompareOptions("insurance", REFERENCE, UPGRADED, report_dir=folder), allow.load(listed))

    assert document["decision"] == "differs"


@pytest.mark.parametrize(("argv", "said"), [
    (["--connector", "lis=connectors.lis:reference", "--against", f"insurance={REFERENCE}"], "names 'lis'"),
    (["--connector", f"insurance={REFERENCE}", "--against", "insurance=nomodule"], "module:factory"),
    (["--connector", f"insurance={REFERENCE}", "--against", f"insurance={REFERENCE}", "--format", "xml"],
     "--format must be text or json"),
])
def test_usage_errors_exit_2_with_one_line(argv: list[str], said: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--interface", "insurance", "--report-dir", str(tmp_path), *argv])

    error = capsys.readouterr().err
    assert code == 2 and said in error and error.count("\n") == 1
    assert not (tmp_path / "old").exists(), "nothing ran"


def test_the_allow_file_on_the_command_line_makes_an_allowed_change_exit_0(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "allow.yaml"
    listed.write_text('- transaction: "2201"\n  field: /input/data/caty\n  reason: 科室编码改报二级科室\n',
                      encoding="utf-8")

    code = hih_compare(tmp_path / "allowed", REFERENCE, UPGRADED, "--allow", str(listed), "--format", "json")

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["decision"] == "same" and document["differences"] == 0 and document["allowed"] >= 1
    page = (tmp_path / "allowed" / "report.html").read_text(encoding="utf-8")
    assert "线上报文变化" in page and "科室编码改报二级科室" in page


def test_a_missing_allow_file_is_a_usage_error_before_anything_runs(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code = hih_compare(tmp_path / "out", REFERENCE, UPGRADED, "--allow", str(tmp_path / "absent.yaml"))

    error = capsys.readouterr().err
    assert code == 2 and "absent.yaml" in error and error.count("\n") == 1
    assert not (tmp_path / "out" / "old").exists(), "nothing ran"


@pytest.mark.parametrize(("interface", "reference"), [("lis", "connectors.lis:reference"),
                                                       ("blood-center", "connectors.blood_center:reference")])
def test_each_transports_reference_connector_against_itself_changes_nothing(
        interface: str, reference: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", "--interface", interface, "--connector", f"{interface}={reference}", "--against",
                 f"{interface}={reference}", "--report-dir", str(tmp_path), "--tags", "@smoke", "--format", "json",
                 "--no-signoff-pdf"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0, document
    assert document["decision"] == "same" and document["differences"] == 0
    assert document["scenarios_compared"] >= 1
