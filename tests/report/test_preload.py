"""What `hih run` prepares for its reports while the scenarios run: templates compiled once, WeasyPrint ready."""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
import pytest

from harness.report import html, pdf, signoff, writer


def test_after_preload_no_template_is_compiled_again(monkeypatch: pytest.MonkeyPatch) -> None:
    writer.preload()
    monkeypatch.setattr(jinja2.Environment, "compile", lambda *a, **k: pytest.fail("template compiled twice"))
    assert html._environment().get_template("report.html.j2") is html._environment().get_template("report.html.j2")
    assert signoff._environment().get_template("signoff.html.j2") is signoff._environment().get_template("signoff.html.j2")


def test_preload_is_silent_without_weasyprint(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails, as when Pango is missing
    pdf.preload()
    assert capsys.readouterr() == ("", "")
    with pytest.raises(pdf.PdfUnavailable):
        pdf.render_pdf("<p>x</p>", Path("/nonexistent/x.pdf"))
