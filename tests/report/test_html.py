"""report.html: order, labels, escaping of hostile message content, masking, pretty-printing by message kind."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import html as lxml_html

from harness.report.formats import pretty, sniff
from harness.report.html import render_html
from harness.report.masking import Masker
from harness.report.writer import write_reports

HOSTILE = "<script>alert('x')</script>"


def summary(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "decision": "fail", "started": "2026-11-22T09:00:00+08:00", "finished": "2026-11-22T09:00:05+08:00",
        "duration_s": 5.0, "workers": 1, "tags": None, "totals": {"passed": 1, "failed": 1, "skipped": 1},
        "interfaces": {
            "insurance": {"contract": "2024.1", "connector": "connectors.insurance:reference", "passed": 1,
                          "failed": 1, "skipped": 1, "duration_s": 0.5},
            "lis": {"contract": "1.0", "connector": "connectors.lis:reference", "passed": 0, "failed": 0,
                    "skipped": 0, "duration_s": 0.0},
        },
        "scenarios": [
            {"interface": "insurance", "feature": "结算", "name": "A passes", "status": "passed", "duration_s": 0.1,
             "nodeid": "t.py::test_pass", "steps": [{"keyword": "假如", "name": "参保人是\"职工\"", "status": "passed"}]},
            {"interface": "insurance", "feature": f"结算 {HOSTILE}", "name": "B fails", "status": "failed",
             "duration_s": 0.2, "nodeid": "t.py::test_fail", "message": f"AssertionError: {HOSTILE} 11010519491231002X",
             "steps": [{"keyword": "那么", "name": f"收到 {HOSTILE}", "status": "failed", "error": HOSTILE}]},
            {"interface": "insurance", "feature": "政策", "name": "C skipped for <交易>", "status": "skipped",
             "duration_s": 0.0, "nodeid": "t.py::test_skip[1101]", "message": "applies to insurance contract <2024.1",
             "steps": []},
        ],
        "collect_errors": [],
    }
    document.update(overrides)
    return document


def exchange(request_text: str, response_text: str | None, transport: str = "http", **extra: Any) -> dict[str, Any]:
    return {"id": 1, "interface": "insurance", "transport": transport, "direction": "inbound", "operation": "1101",
            "started": 1795300000.0, "duration_ms": 1.5, "status": 200, "fault": None,
            "meta": {"method": "POST", "path": "/fsi/api/x"}, "request_raw": {"text": request_text},
            "request": None, "request_findings": [], "response_raw": None if response_text is None else {"text": response_text},
            "response": None, "response_findings": [], **extra}


EVIDENCE = {
    "t.py::test_fail": [exchange(
        '{"infno": "1101", "input": {"data": {"psn_name": "张三丰", "note": "' + HOSTILE.replace("'", "\\u0027") + '"}}}',
        '{"infcode": -1, "err_msg": "</pre><img src=x onerror=alert(1)>"}',
        request_findings=[{"severity": "error", "location": "/input/data/note", "message": f"bad {HOSTILE}", "rule": "x"}],
    )],
    "t.py::test_pass": [exchange('{"infno": "9001"}', None)],
}


def render(document: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None) -> str:
    return render_html(document or summary(), EVIDENCE if evidence is None else evidence, Masker(), hih_version="0.1.0")


def test_hostile_text_is_escaped_everywhere() -> None:
    page = render()

    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count("<script>") == 1, "only the report's own script"
    tree = lxml_html.fromstring(page)
    assert len(tree.xpath("//script")) == 1 and not tree.xpath("//img")
    assert HOSTILE in tree.text_content(), "shown as text, not run"


def test_no_network_and_a_content_security_policy() -> None:
    page = render()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    policy = lxml_html.fromstring(page).xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy


def test_decision_first_then_interfaces_then_scenarios_failures_first_then_sign_off() -> None:
    page = render()
    tree = lxml_html.fromstring(page)

    order = [page.index(marker) for marker in ('id="decision"', 'id="interfaces"', 'id="failed"', 'class="interface"',
                                               'id="signoff"')]
    assert order == sorted(order)
    assert "不予放行" in tree.xpath("//section[@id='decision']")[0].text_content()
    assert "2026-11-22 09:00:00 +0800" in page
    statuses = [a.get("data-status") for a in tree.xpath("//section[@data-interface='insurance']//article")]
    assert statuses == ["failed", "passed", "skipped"]
    assert "C skipped for <交易> [1101]" in tree.xpath("//article[@data-status='skipped']")[0].text_content()
    rows = tree.xpath("//section[@id='interfaces']//tbody/tr")
    assert [r.xpath("td")[0].text_content().strip().split()[0] for r in rows] == ["insurance", "lis"]
    assert len(tree.xpath("//section[contains(concat(' ', @class, ' '), ' interface ')]")) == 2, (
        "one section (one printed page break when everything is printed) per interface")
    assert tree.xpath("//section[contains(@class, 'has-failures')]/@data-interface") == ["insurance"]
    signoff = tree.xpath("//section[@id='signoff']")[0].text_content()
    for label in ("审核人", "Reviewer", "角色", "Role", "日期", "Date", "结论", "Decision", "备注", "Notes"):
        assert label in signoff


def test_bilingual_labels_and_print_css() -> None:
    page = render()
    for label in ("放行结论", "Gate decision", "合同版本", "Contract version", "连接器", "Connector", "通过", "Passed",
                  "失败", "Failed", "跳过", "Skipped", "用时", "Duration", "请求", "Request", "应答", "Response",
                  "合同检查", "Contract findings"):
        assert label in page, label
    assert re.search(r"@media print\s*{[^@]*section\.interface\s*{\s*break-before:\s*page", page)


def test_messages_are_masked_again_and_pretty_printed() -> None:
    page = render()
    tree = lxml_html.fromstring(page)

    assert "张三丰" not in page and "11010519491231002X" not in page
    payloads = [p.text_content() for p in tree.xpath("//article[@data-status='failed']//pre[@class='payload']")]
    assert payloads[0].startswith('{\n  "infno": "1101",\n  "input": {'), "JSON indented"
    assert '"psn_name": "张**"' in payloads[0]
    findings = tree.xpath("//article[@data-status='failed']//div[@class='findings']")[0].text_content()
    assert "/input/data/note" in findings and "错误" in findings
    assert "无应答" in tree.xpath("//article[@data-status='passed']")[0].text_content()
    assert tree.xpath("//article[@data-status='failed']//details[@open]"), "a failure's messages are open"
    assert not tree.xpath("//article[@data-status='passed']//details[@open]")


def test_xml_and_hl7_messages_are_shown_by_kind() -> None:
    xml = '<?xml version="1.0"?><Envelope><Body><Record><MotherName>王芳</MotherName><Weight>3200</Weight></Record></Body></Envelope>'
    hl7 = "\x0bMSH|^~\\&|LIS|H|HIS|H|20240101||ORU^R01|1|P|2.5\rPID|1||P123^^^H^MR||张三\rOBX|1|NM|GLU||5.6\x1c\r"
    evidence = {"t.py::test_pass": [exchange(xml, hl7, transport="soap")]}

    page = render(evidence=evidence)
    payloads = [p.text_content() for p in lxml_html.fromstring(page).xpath("//pre[@class='payload']")]

    assert payloads[0].splitlines()[:3] == ['<?xml version="1.0"?>', "<Envelope>", "  <Body>"]
    assert "王芳" not in payloads[0] and "<MotherName>王*</MotherName>" in payloads[0]
    assert payloads[1].splitlines() == ["MSH|^~\\&|LIS|H|HIS|H|20240101||ORU^R01|1|P|2.5", "PID|1||P**3^^^H^MR||张*",
                                        "OBX|1|NM|GLU||5.6"]


def test_message_kinds() -> None:
    assert sniff('{"a": 1}') == "json" and sniff("<a/>") == "xml" and sniff("\x0bMSH|^~\\&|") == "hl7"
    assert sniff("anything", "mllp") == "hl7" and sniff("plain words") == "text"
    assert pretty('{"a": ') == ("json", '{"a": ', False), "a malformed message is shown as it came"
    assert pretty("<a><b></a>")[2] is False
    entity_bomb = '<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>'
    assert "root:" not in pretty(entity_bomb)[1], "no external entity is read"


def test_write_reports_writes_the_page_and_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{}", encoding="utf-8")
    (tmp_path / "pytest.log").write_text("E   AssertionError: 11010519491231002X != None\n", encoding="utf-8")

    written = write_reports(tmp_path, summary(), EVIDENCE)

    assert [p.name for p in written] == ["report.html", "manifest.json", "signoff.html", "signoff.pdf", "signoff.sha256"]
    assert "11010519491231002X" not in (tmp_path / "pytest.log").read_text(encoding="utf-8"), "logs masked again"
    assert "不予放行" in (tmp_path / "report.html").read_text(encoding="utf-8")
