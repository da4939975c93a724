"""harness.report.pdf: arrays of a declared length are made as open arrays, and the PDF comes out the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.report import pdf
from tests.weasyprint_skip import skip_without_weasyprint

skip_without_weasyprint()

PAGE = ("<html><body><h1>签收单 sign-off</h1><p>放行 <b>通过 passed</b></p>"
        "<p style='font-family: \"DejaVu Sans Mono\"'>0123456789abcdef 校验值</p>"
        "<table><tr><td>医保 insurance</td><td>2207</td></tr></table></body></html>")


@pytest.fixture
def ffi() -> Any:
    """WeasyPrint's cffi instance, WeasyPrint loaded as `hih run` loads it."""
    pdf.load()
    from weasyprint.text.ffi import ffi

    return ffi


def _plain_new(ffi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """cffi's own `ffi.new` for the rest of the test (the instance attribute the shim set is removed)."""
    pdf._quiet()
    monkeypatch.delattr(ffi, "new")
    monkeypatch.setattr(pdf, "_open_arrays", lambda: None)


def test_a_sized_array_is_the_same_items_length_and_contents(ffi: Any) -> None:
    pdf._quiet()
    original = type(ffi).new.__get__(ffi)
    for cdecl, init in (("hb_codepoint_t[3]", [7, 1, 65535]), ("hb_codepoint_t[5]", None),
                        ("hb_codepoint_t[2]", (4, 2)), ("unsigned int [4]", [1, 2, 3, 4])):
        made, reference = ffi.new(cdecl, init), original(cdecl, init)
        assert ffi.typeof(made).item is ffi.typeof(reference).item
        assert (len(made), list(made)) == (len(reference), list(reference))
        assert ffi.sizeof(made) == ffi.sizeof(reference)


def test_other_requests_reach_cffi_unchanged(ffi: Any) -> None:
    pdf._quiet()
    assert ffi.typeof(ffi.new("PangoRectangle *")) is ffi.typeof("PangoRectangle *")
    short = ffi.new("hb_codepoint_t[4]", [1, 2])  # fewer items than the length: cffi's zero fill
    assert (ffi.typeof(short), list(short)) == (ffi.typeof("hb_codepoint_t[4]"), [1, 2, 0, 0])
    with pytest.raises(IndexError):
        ffi.new("hb_codepoint_t[1]", [1, 2])


def test_a_new_length_is_not_parsed_again(ffi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import cffi.cparser

    pdf._quiet()
    ffi.new("hb_codepoint_t[]", 1)  # the open type, parsed once a process
    parsed: list[str] = []
    parse = cffi.cparser.Parser.parse_type_and_quals

    def counted(self: cffi.cparser.Parser, cdecl: str) -> object:
        parsed.append(cdecl)
        return parse(self, cdecl)

    monkeypatch.setattr(cffi.cparser.Parser, "parse_type_and_quals", counted)
    for length in (90001, 90002, 90003):
        ffi.new(f"hb_codepoint_t[{length}]", list(range(length)))
    assert parsed == []


def test_the_pdf_is_byte_for_byte_the_same(ffi: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = pdf.render_pdf(PAGE, tmp_path / "open.pdf")
    _plain_new(ffi, monkeypatch)
    assert ffi.new is not None and not getattr(ffi.new, "hih_open_arrays", False)
    assert pdf.render_pdf(PAGE, tmp_path / "sized.pdf") == pages == 1
    assert (tmp_path / "open.pdf").read_bytes() == (tmp_path / "sized.pdf").read_bytes()
