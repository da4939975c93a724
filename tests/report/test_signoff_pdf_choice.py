"""The sign-off pack with and without signoff.pdf, as `write_reports` writes it and `hih report verify` reads it:
not asked for (`--no-signoff-pdf`), WeasyPrint is not imported and verify says so; asked for and not written (no
WeasyPrint), the run warns and verify warns again, and a PDF deleted afterwards is still a failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.report import pdf
from harness.report.manifest import verify
from harness.report.writer import manifest_line, write_reports
from tests.report.test_html import EVIDENCE, summary


def lines(folder: Path) -> tuple[int, list[str]]:
    printed: list[str] = []
    return verify(folder, printed.append), printed


def test_without_the_pdf_the_pack_is_the_page_and_its_seal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise AssertionError("signoff.pdf rendered though not asked for")

    monkeypatch.setattr(pdf, "render_pdf", refuse)
    (tmp_path / "signoff.pdf").write_bytes(b"%PDF- of an earlier run\n")

    written = write_reports(tmp_path, summary(), EVIDENCE, signoff_pdf=False)

    assert [p.name for p in written] == ["report.html", "manifest.json", "signoff.html", "signoff.sha256"]
    assert not (tmp_path / "signoff.pdf").exists(), "an earlier run's PDF is not left beside this pack"
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["signoff"]["files"] == ["signoff.html"] and manifest["signoff"]["pdf"] is False
    code, printed = lines(tmp_path)
    assert code == 0 and printed[0].startswith("verified ") and printed[-1].startswith("no signoff.pdf: the run was told")
    assert manifest_line(tmp_path).endswith(f"(sign-off page: {tmp_path / 'signoff.html'}, no PDF)")


def test_a_pdf_asked_for_and_not_written_warns_and_one_deleted_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails, as when Pango is missing

    written = write_reports(tmp_path, summary(), EVIDENCE)

    assert "signoff.pdf" not in [p.name for p in written]
    assert capsys.readouterr().err.startswith("hih: warning: signoff.pdf not written: WeasyPrint cannot be loaded")
    assert json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["signoff"]["pdf"] is True
    code, printed = lines(tmp_path)
    assert code == 0 and printed[-1].startswith("warning: no signoff.pdf: it was asked for"), printed
    assert manifest_line(tmp_path).endswith("no PDF)"), "the last line points at no PDF that is not there"

    monkeypatch.delitem(sys.modules, "weasyprint")
    write_reports(tmp_path, summary(), EVIDENCE)
    assert (tmp_path / "signoff.pdf").is_file() and lines(tmp_path)[0] == 0
    (tmp_path / "signoff.pdf").unlink()
    assert lines(tmp_path) == (1, ["missing: signoff.pdf"])
