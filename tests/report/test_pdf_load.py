"""WeasyPrint imported with its system libraries loaded by their sonames (harness.report.pdf.load): no ldconfig,
compiler or linker run, the same libraries and so the same PDF, ctypes' own search again when that fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.weasyprint_skip import skip_without_weasyprint

skip_without_weasyprint()
if not sys.platform.startswith("linux"):
    pytest.skip("the loader's cache lookup is Linux's", allow_module_level=True)

HTML = "<html><body><h1>签收 sign-off</h1><p>通过 <b>passed</b> <code>0123456789abcdef</code></p></body></html>"

PROBE = """
import ctypes.util, json, subprocess, sys
from pathlib import Path
ran = []
spawn = subprocess.Popen.__init__
def recording(self, args, *rest, **kwargs):
    ran.append(args if isinstance(args, str) else list(map(str, args)))
    spawn(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = recording
search = ctypes.util.find_library
from harness.report import pdf
if sys.argv[2] == "plain":
    import weasyprint
else:
    pdf.load()
from weasyprint.text import ffi
pdf.render_pdf(%(html)r, Path(sys.argv[1]))
print(json.dumps({"ran": ran, "restored": ctypes.util.find_library is search,
                  "optional": [ffi.harfbuzz_subset is None, ffi.harfbuzz_vector is None]}))
"""


def loaded(tmp_path: Path, how: str) -> tuple[dict[str, object], bytes]:
    target = tmp_path / f"{how}.pdf"
    done = subprocess.run([sys.executable, "-c", PROBE % {"html": HTML}, str(target), how], capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), target.read_bytes()


def programs(ran: object) -> set[str]:
    assert isinstance(ran, list)
    return {Path(args[0] if isinstance(args, list) else str(args).split()[0]).name for args in ran}


def test_the_libraries_are_loaded_by_their_sonames_without_a_search(tmp_path: Path) -> None:
    plain, plain_pdf = loaded(tmp_path, "plain")
    fast, fast_pdf = loaded(tmp_path, "fast")
    # ctypes' own search runs the compiler and the linker (where installed) for the names the cache does not know;
    # loading by the sonames runs nothing
    assert "ldconfig" in programs(plain["ran"])
    if shutil.which("gcc") or shutil.which("cc") or shutil.which("ld"):
        assert programs(plain["ran"]) - {"ldconfig"}
    assert fast["ran"] == []
    assert fast["restored"] is True
    assert fast["optional"] == plain["optional"]
    assert fast_pdf == plain_pdf  # the same Pango, HarfBuzz and fontconfig: the same document to the byte


FAKE = """
import builtins, ctypes.util
import weasyprint.part
builtins.hih_fake_imports = getattr(builtins, "hih_fake_imports", 0) + 1
if ctypes.util.find_library("only-the-compiler-knows") is None:
    raise OSError("cannot load library 'only-the-compiler-knows'")
"""


def test_a_library_its_sonames_miss_is_searched_for_as_ctypes_does(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import ctypes.util

    from harness.report import pdf

    package = tmp_path / "weasyprint"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE, encoding="utf-8")
    (package / "part.py").write_text("", encoding="utf-8")
    for name in [n for n in sys.modules if n == "weasyprint" or n.startswith("weasyprint.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(builtins, "hih_fake_imports", 0, raising=False)

    def search(name: str) -> str | None:  # ctypes' own search, which (say) asks the compiler
        return "/usr/lib/libonly.so" if name == "only-the-compiler-knows" else None

    monkeypatch.setattr(ctypes.util, "find_library", search)
    loaded = pdf.load()
    assert loaded.__file__ == str(package / "__init__.py")
    assert getattr(builtins, "hih_fake_imports") == 2  # noqa: B009 - without a search, then with ctypes' one  # the cache alone failed it; ctypes' search found the library
    assert sys.modules["weasyprint.part"].__file__ == str(package / "part.py")
    assert ctypes.util.find_library is search
    for name in [n for n in sys.modules if n == "weasyprint" or n.startswith("weasyprint.")]:
        del sys.modules[name]  # the fake is not left for other tests (monkeypatch puts the real ones back)
