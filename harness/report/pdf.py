"""HTML to PDF with WeasyPrint: a real layout engine (pages, running page numbers) that embeds the CJK font
fontconfig finds (./scripts/setup installs one), so the Chinese text is text in the PDF, not pictures."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any


class PdfUnavailable(Exception):
    """WeasyPrint or the system libraries it needs (Pango) are not installed."""


WARM_UP = '<html><body><p>签收 sign-off <b>签收</b> <code>0</code></p><table><tr><td>表</td></tr></table></body></html>'


def preload() -> None:
    """Import WeasyPrint and lay out a line of Chinese and English ahead of time (a run does it while its scenarios
    run), so that fontconfig, Pango and the CJK font are ready for the sign-off; silent when WeasyPrint cannot be
    loaded, which `render_pdf` reports."""
    try:
        weasyprint = load()
    except (ImportError, OSError):
        return
    _quiet()
    try:
        weasyprint.HTML(string=WARM_UP, base_url=None, url_fetcher=_no_fetch).render().write_pdf()
    except Exception:  # noqa: BLE001 - only a warm-up: the sign-off's own rendering reports what is wrong
        pass


def load() -> Any:
    """WeasyPrint, imported with its system libraries loaded by the names the dynamic loader resolves itself.

    WeasyPrint loads Pango, HarfBuzz, fontconfig and GObject by trying names for each in turn, Windows' first
    (`libgobject-2.0-0`, then `gobject-2.0`, ..., `libgobject-2.0.so.0`); cffi asks `ctypes.util.find_library` for
    each name it cannot load as it is, which on Linux runs `ldconfig -p`, then the C compiler and the linker (`gcc
    -Wl,-t`, `ld -t`) for a name the loader's cache does not know: 22 `ldconfig`, 16 `gcc` and 16 `ld` processes an
    import, ≈ 0.2 s of their CPU and ≈ 1 s of wall beside a run's first scenarios. Here that search answers nothing
    while WeasyPrint is imported, so each library is loaded by its soname among WeasyPrint's names
    (`libgobject-2.0.so.0`: the file `ldconfig` would have named, found by the loader from its cache). When WeasyPrint
    cannot be imported that way (a library whose soname is not among its names), it is imported again with ctypes'
    search; an optional one it does without (HarfBuzz's subsetter, its vector module) is looked for by those names
    only. Elsewhere than on Linux WeasyPrint is imported as it is."""
    if "weasyprint" in sys.modules or not sys.platform.startswith("linux"):
        import weasyprint

        return weasyprint
    import ctypes.util

    search = ctypes.util.find_library
    ctypes.util.find_library = _not_searched
    try:
        import weasyprint
    except OSError:
        for name in [name for name in sys.modules if name == "weasyprint" or name.startswith("weasyprint.")]:
            del sys.modules[name]
        ctypes.util.find_library = search
        import weasyprint
    finally:
        ctypes.util.find_library = search
    return weasyprint


def _not_searched(name: str) -> None:
    """`ctypes.util.find_library` while WeasyPrint is imported by `load`: no search."""
    return None


def _quiet() -> None:
    for name in ("weasyprint", "fontTools"):  # CSS it skips and font subsetting chatter are not the user's business
        logging.getLogger(name).setLevel(logging.ERROR)
    _open_arrays()


_SIZED_ARRAY = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*\[(\d+)\]\s*$")


def _open_arrays() -> None:
    """WeasyPrint's font subsetting asks cffi for arrays typed by their length (`hb_codepoint_t[1234]`, twice a
    font), and cffi parses each new type string with pycparser: ≈ 3 ms of CPU a length, ≈ 30 ms a sign-off, and
    lengths seldom repeat. An array of a declared length that is given exactly that many items, or none, is made
    as the same array of open length (`hb_codepoint_t[]`, parsed once): the same C type of items, the same length
    and contents. Any other request goes to cffi unchanged."""
    from weasyprint.text.ffi import ffi

    new = ffi.new
    if getattr(new, "hih_open_arrays", False):
        return

    def open_new(cdecl: Any, init: Any = None) -> Any:
        sized = _SIZED_ARRAY.match(cdecl) if isinstance(cdecl, str) else None
        if sized is not None:
            length = int(sized.group(2))
            if init is None:
                return new(f"{sized.group(1)}[]", length)
            if isinstance(init, list | tuple) and len(init) == length:
                return new(f"{sized.group(1)}[]", init)
        return new(cdecl, init)

    open_new.hih_open_arrays = True  # type: ignore[attr-defined]
    ffi.new = open_new


def render_pdf(html: str, target: Path, print_css: str | None = None) -> int:
    """Write `html` (self-contained: inline CSS, no fetches) to `target` as PDF; returns the number of pages.
    `print_css`: rules for the PDF only, on top of the page's own (a user stylesheet: the page's rules win)."""
    return write(lay_out(html, print_css), target)


def lay_out(html: str, print_css: str | None = None) -> Any:
    """`html` laid out in pages (a WeasyPrint document), not yet drawn; see `render_pdf`."""
    try:
        weasyprint = load()
    except (ImportError, OSError) as exc:  # OSError: Pango missing from the system
        raise PdfUnavailable(f"WeasyPrint cannot be loaded ({exc}); ./scripts/setup installs what it needs") from None
    _quiet()
    stylesheets = [weasyprint.CSS(string=print_css, url_fetcher=_no_fetch)] if print_css else None
    return weasyprint.HTML(string=html, base_url=None, url_fetcher=_no_fetch).render(stylesheets=stylesheets)


def write(document: Any, target: Path) -> int:
    """A laid-out document drawn into `target` (written beside it, then moved into place); returns its pages."""
    tmp = target.with_name(target.name + ".writing")
    document.write_pdf(tmp)
    tmp.replace(target)
    return len(document.pages)


def _no_fetch(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
    """The pack is self-contained: nothing is fetched, not even a file next to it."""
    raise ValueError(f"the sign-off pack fetches nothing ({url})")
