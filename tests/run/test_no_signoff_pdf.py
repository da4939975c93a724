"""`hih run --no-signoff-pdf` and hih.toml `[report] signoff_pdf = false` over real runs: the sign-off pack is
signoff.html alone, WeasyPrint is never imported in the run's process, the manifest says no PDF was asked for and
`hih report verify` passes and says so; `--signoff-pdf` wins over the file. Each run is a real `hih run` of the
insurance smoke scenarios in a process of its own, which prints whether WeasyPrint is among its modules at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import CONFIG_ENV
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PROBE = """
import sys
from harness.cli import main
code = main(sys.argv[1:])
print("weasyprint loaded" if "weasyprint" in sys.modules else "weasyprint not loaded")
sys.exit(code)
"""
"""`hih run` in this process, then whether it imported WeasyPrint (the preload thread, the writer, the side
process's parent all run here)."""
NO_PDF_TOML = "[report]\nsignoff_pdf = false\n"


def hih_run(cwd: Path, *args: str, toml: str | None = None) -> subprocess.CompletedProcess[str]:
    if toml is not None:
        (cwd / "hih.toml").write_text(toml, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    env.update(HIH_HISTORY="off", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", PROBE, "run", "--interface", "insurance", "--tags", "@smoke",
                           "--report-dir", "reports", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def verify(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["report", "verify", str(folder)])
    return code, capsys.readouterr().out


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith("weasyprint"), done.stdout + done.stderr
    return lines[-2]


@pytest.mark.parametrize(("args", "toml"), [(("--no-signoff-pdf",), None), ((), NO_PDF_TOML)],
                         ids=["option", "hih.toml"])
def test_a_run_without_the_pdf_never_loads_weasyprint_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   args: tuple[str, ...], toml: str | None) -> None:
    done = hih_run(tmp_path, *args, toml=toml)
    reports = tmp_path / "reports"

    assert done.returncode == 0, done.stdout + done.stderr
    assert "weasyprint not loaded" in done.stdout
    assert "signoff.pdf" not in done.stderr, "no warning: the PDF was not asked for"
    assert (reports / "signoff.html").is_file() and not (reports / "signoff.pdf").exists()
    assert not list(reports.glob("*.writing")), "no PDF half written"
    line = last_line(done)
    assert line.startswith("manifest.json sha256 ") and "signoff.pdf" not in line
    assert line.endswith(f"(sign-off page: {Path('reports') / 'signoff.html'}, no PDF)")
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["signoff"] == {"files": ["signoff.html"], "seal": "signoff.sha256", "pdf": False}
    seal = (reports / "signoff.sha256").read_text(encoding="utf-8")
    assert seal.endswith("  signoff.html\n") and seal.count("\n") == 1

    code, printed = verify(reports, capsys)
    assert code == 0, printed
    assert printed.splitlines()[-1].startswith("no signoff.pdf: the run was told to write none")

    # a signoff.pdf put beside a pack that had none is not the run's: verify names it
    copy = tmp_path / "copy"
    shutil.copytree(reports, copy)
    (copy / "signoff.pdf").write_bytes(b"%PDF-1.7\n")
    code, printed = verify(copy, capsys)
    assert code == 1 and printed.splitlines() == ["added: signoff.pdf"]


def test_the_option_wins_over_hih_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = hih_run(tmp_path, "--signoff-pdf", toml=NO_PDF_TOML)
    reports = tmp_path / "reports"

    assert done.returncode == 0, done.stdout + done.stderr
    assert "weasyprint loaded" in done.stdout
    assert (reports / "signoff.pdf").read_bytes().startswith(b"%PDF")
    assert last_line(done).endswith(f"(sign-off pack: {Path('reports') / 'signoff.pdf'})")
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["signoff"] == {"files": ["signoff.html", "signoff.pdf"], "seal": "signoff.sha256", "pdf": True}
    code, printed = verify(reports, capsys)
    assert code == 0 and "no signoff.pdf" not in printed, printed
