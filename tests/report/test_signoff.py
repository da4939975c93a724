"""The sign-off pack: the failures in business words, what changed, and the real PDF of real runs (page count and
Chinese text read back with pdftotext)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from harness.config import SignoffConfig
from harness.contract.loader import ContractStore
from harness.failure import SpecFailure, parse_failure
from harness.report.changes import compare
from harness.report.failures import business_failure
from harness.report.manifest import differences
from harness.report.masking import Masker
from harness.report.signoff import build_signoff, render_signoff

INTERFACES = ("insurance", "blood-center", "mch-platform", "lis", "pacs")


def _pdf(path: Path) -> tuple[int, str]:
    """(pages, text) of a PDF, read by poppler's pdfinfo and pdftotext."""
    pdfinfo, pdftotext = shutil.which("pdfinfo"), shutil.which("pdftotext")
    assert pdfinfo and pdftotext, "poppler-utils (pdfinfo, pdftotext) is installed by ./scripts/setup"
    tools = [pdfinfo, pdftotext]
    info = subprocess.run([tools[0], str(path)], capture_output=True, text=True, timeout=60, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run([tools[1], "-enc", "UTF-8", "-layout", str(path), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    return pages, text


def _operations(interface: str) -> dict[str, str]:
    contract = ContractStore(None).load(interface, None)
    return {k: op.name for k, op in contract.operations.items()}


# -- failures in business words ---------------------------------------------------------------------------------
def test_a_spec_failure_reads_as_reason_transaction_expected_actual() -> None:
    failure = SpecFailure("撤销已结算的费用明细，平台应拒绝", transaction="2205", expected="infcode -1",
                          actual="infcode 0", detail="journal #4")
    scenario = {"interface": "insurance", "feature": "撤销", "name": "已结算的费用明细不能撤销", "status": "failed",
                "message": f"harness.failure.SpecFailure: {failure.text()}",
                "steps": [{"keyword": "那么", "name": "平台拒绝撤销", "status": "failed"}]}
    found = business_failure(scenario, [], _operations("insurance"))
    assert (found.transaction, found.transaction_name) == ("2205", "门诊费用明细撤销")
    assert found.transaction_label == "2205 门诊费用明细撤销"
    assert found.reason == "撤销已结算的费用明细，平台应拒绝"
    assert (found.expected, found.actual, found.detail) == ("infcode -1", "infcode 0", "journal #4")


def test_another_failure_keeps_its_text_as_detail_and_takes_the_transaction_from_the_exchanges() -> None:
    scenario = {"interface": "lis", "feature": "医嘱", "name": "医嘱被 LIS 接收", "status": "failed",
                "message": "harness.ports.hl7.Rejected: AE from LIS",
                "steps": [{"keyword": "假如", "name": "患者 \"张*\"", "status": "passed"},
                          {"keyword": "当", "name": "医院开立检验医嘱 \"P0100\"", "status": "failed"}]}
    exchanges: list[dict[str, Any]] = [{"operation": "ADT^A01"}, {"operation": "OML^O21"}, {"operation": None}]
    found = business_failure(scenario, exchanges, _operations("lis"))
    assert found.transaction == "OML^O21" and found.transaction_name.startswith("检验医嘱")
    assert found.reason == "步骤「当 医院开立检验医嘱 \"P0100\"」未通过：出现异常 Rejected（见技术细节）"
    assert found.detail == "harness.ports.hl7.Rejected: AE from LIS" and found.expected is None


def test_a_bare_assertion_gets_the_generic_reason_and_a_cut_detail() -> None:
    scenario = {"interface": "blood-center", "feature": "约血", "name": "预约", "status": "failed",
                "message": "AssertionError: " + "x" * 5000, "steps": []}
    found = business_failure(scenario, [{"operation": "SubmitBloodOrder"}], _operations("blood-center"))
    assert found.reason == "场景未通过：结果与规格不符（见技术细节）"
    assert found.transaction_label == "SubmitBloodOrder 用血预约"
    assert len(found.detail) < 1000 and found.detail.endswith("…")


# -- what changed -------------------------------------------------------------------------------------------------
def _scenario(nodeid: str, status: str, interface: str = "insurance") -> dict[str, Any]:
    return {"interface": interface, "feature": "F", "name": nodeid, "nodeid": nodeid, "status": status}


def test_changes_since_the_previous_run() -> None:
    summary = {"interfaces": {"insurance": {"contract": "2024.1", "connector": "c:new"}, "lis": {"contract": "2024.1"}},
               "scenarios": [_scenario("a", "failed"), _scenario("b", "passed"), _scenario("c", "passed"),
                             _scenario("d", "skipped"), _scenario("x", "passed", "lis")]}
    previous = {"insurance": {"id": 7, "started": "2026-11-20T09:00:00+08:00", "contract": "2023.1", "connector": "c:old",
                              "scenarios": {n: {"feature": "F", "name": n, "status": s}
                                            for n, s in (("a", "passed"), ("b", "failed"), ("d", "skipped"), ("e", "passed"))}}}
    insurance, lis = compare(summary, previous)
    assert insurance.baseline_run == 7 and insurance.contract == ("2023.1", "2024.1")
    assert insurance.connector == ("c:old", "c:new")
    assert insurance.newly_failing.names == ["F · a"] and insurance.newly_passing.names == ["F · b"]
    assert insurance.added.names == ["F · c"] and insurance.removed.names == ["F · e"]
    assert lis.baseline_run is None and not lis.nothing


def test_a_long_list_of_changes_is_cut_and_counted() -> None:
    summary = {"interfaces": {"lis": {"contract": "1"}}, "scenarios": [_scenario(str(i), "passed", "lis") for i in range(30)]}
    (lis,) = compare(summary, {"lis": {"id": 1, "contract": "1", "connector": "None", "scenarios": {}}})
    assert lis.added.total == 30 and len(lis.added.names) == 8 and lis.added.more == 22


# -- the page ---------------------------------------------------------------------------------------------------------
def test_the_page_names_the_hospital_the_departments_and_masks_what_it_shows() -> None:
    summary = {"decision": "fail", "release": "HIS 5.2.1", "operator": "13812345678", "host": "ci-01",
               "interfaces": {"lis": {"contract": "2024.1", "connector": "connectors.lis:reference", "passed": 1,
                                      "failed": 1, "skipped": 0, "contract_effective": "2024-07-01",
                                      "connector_identity": {"name": "LIS 接口 v3", "label": "x", "kind": "version",
                                                             "value": "3.2.0", "git_commit": None}}},
               "scenarios": [{"interface": "lis", "feature": "F", "name": "患者 110105194912310029", "status": "failed",
                              "nodeid": "n", "message": "SpecFailure: 姓名不符\n期望: 张三\n实际: 李四"}]}
    config = SignoffConfig(hospital="示例市第一人民医院", vendor="示例软件", departments={"lis": "检验科（中心实验室）"})
    masker = Masker()
    masker.remember(["张三", "李四"])
    html = render_signoff(build_signoff(summary, {}, masker, {}, config, {}, "ab" * 32))
    for text in ("示例市第一人民医院", "不予放行", "HIS 5.2.1", "检验科（中心实验室）", "示例软件", "信息科", "生效 2024-07-01",
                 "LIS 接口 v3", "3.2.0", "ab" * 32, "姓名不符"):
        assert text in html, text
    for text in ("13812345678", "110105194912310029", "张三", "李四"):
        assert text not in html, text


# -- real runs ------------------------------------------------------------------------------------------------------
def test_a_passing_run_of_every_interface_signs_on_two_or_three_pages(parallel_run: Path) -> None:
    pages, text = _pdf(parallel_run / "signoff.pdf")
    assert 2 <= pages <= 3
    manifest_sha = hashlib.sha256((parallel_run / "manifest.json").read_bytes()).hexdigest()
    flat = "".join(text.split())
    for expected in ("接口放行签字单", "放行", "各接口结论", "与上次运行相比", "签字", "信息科", "检验科", "输血科",
                     "供应商", manifest_sha, "HIS5.2.1", "张工", *INTERFACES):
        assert expected in flat, expected
    assert "不予放行" not in flat
    summary = json.loads((parallel_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["operator"] == "张工" and summary["release"] == "HIS 5.2.1"
    assert summary["host"] and summary["hih_version"]


def test_a_failing_run_names_its_failures_in_business_words_within_five_pages(failing_run: Path) -> None:
    pages, text = _pdf(failing_run / "signoff.pdf")
    assert pages <= 5
    flat = "".join(text.split())
    assert "不予放行" in flat and "失败项" in flat
    assert "9001签到" in flat, "the transaction code and its Chinese name from the contract"
    summary = json.loads((failing_run / "summary.json").read_text(encoding="utf-8"))
    reasons = [parse_failure(s["message"]).reason for s in summary["scenarios"] if s["status"] == "failed"]
    assert reasons and all(reasons), "every failure has a reason"
    assert "".join(reasons[0].split())[:40] in flat, "the first failure's Chinese reason is on the sheet"
    html = (failing_run / "signoff.html").read_text(encoding="utf-8")
    assert html.count('<p class="reason">') >= 1


def test_verify_covers_the_signoff_pack(parallel_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "reports"
    shutil.copytree(parallel_run, copy)
    assert differences(copy)[0] == []
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    assert "signoff.pdf" not in manifest["files"] and manifest["signoff"]["seal"] == "signoff.sha256"
    seal = (copy / "signoff.sha256").read_text(encoding="utf-8")
    assert "  signoff.html\n" in seal and "  signoff.pdf\n" in seal
    if shutil.which("sha256sum"):  # an auditor can check the seal without hih
        subprocess.run(["sha256sum", "-c", "signoff.sha256"], cwd=copy, check=True, capture_output=True, timeout=30)

    with (copy / "signoff.pdf").open("ab") as handle:
        handle.write(b"%")
    assert differences(copy)[0] == ["changed: signoff.pdf"]
    shutil.copy(parallel_run / "signoff.pdf", copy / "signoff.pdf")
    (copy / "signoff.sha256").unlink()
    assert differences(copy)[0] == ["added: signoff.html (not sealed by signoff.sha256)",
                                    "added: signoff.pdf (not sealed by signoff.sha256)"]
    shutil.copy(parallel_run / "signoff.sha256", copy / "signoff.sha256")
    (copy / "signoff.pdf").unlink()
    assert differences(copy)[0] == ["missing: signoff.pdf"]


def test_a_signoff_html_of_another_manifest_does_not_verify(parallel_run: Path, failing_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "reports"
    shutil.copytree(parallel_run, copy)
    for name in ("signoff.html", "signoff.pdf", "signoff.sha256"):
        shutil.copy(failing_run / name, copy / name)
    assert differences(copy)[0] == ["changed: signoff.html (names another manifest.json)"]


def test_an_older_summary_without_an_identity_names_the_connector_by_its_files_and_commit() -> None:
    """A summary written before runs recorded `connector_identity` (or merged from one): the pack falls back on the
    SHA-256 of the connector's module and the commit of the checkout holding it."""
    import subprocess

    from harness.report.signoff import connector_identity
    from harness.run.identity import git_commit
    from tests.conftest import ROOT

    identity = connector_identity("insurance", {"connector": "connectors.insurance:reference"})

    assert (identity.kind, identity.name) == ("files-sha256", "connectors.insurance:reference")
    assert len(identity.value) == 64 and int(identity.value, 16) >= 0
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip()
    assert identity.git_commit == git_commit(ROOT / "connectors") == (head or None)
