"""Reports of a run, written next to summary.json and junit.xml: every writer is called by the runner.

`write_reports` masks the logs pytest wrote once more, writes report.html and cucumber.json's companions, and
writes manifest.json last, over every file of the directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from harness.config import load_config
from harness.errors import HihError
from harness.report.formats import parse_xml
from harness.report.html import render_html
from harness.report.manifest import WRITTEN_AFTER, hih_version, sha256_file, write_manifest
from harness.report.masking import Masker
from harness.report.signoff import SIGNOFF_HTML, SIGNOFF_PDF, page_ahead, signoff_ahead, write_signoff

if TYPE_CHECKING:
    from harness.report.pdf_ahead import PdfAhead
    from harness.report.signoff import AheadPage

REPORT_HTML = "report.html"
CUCUMBER_JSON = "cucumber.json"


def _contracts(summary: dict[str, Any], loaded: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contracts the run used, by interface (missing ones left out: the report still renders). `loaded`: those
    the caller holds already (`hih run` loaded them before its scenarios), used where the version is the run's:
    loading the five again costs ≈ 2 s of YAML and profile parsing."""
    from harness.contract.loader import ContractStore

    root = summary.get("contracts_dir")
    store = ContractStore(Path(root) if root else None)
    found = {}
    for name, row in (summary.get("interfaces") or {}).items():
        held = (loaded or {}).get(name)
        if held is not None and held.version == str(row.get("contract")):
            found[name] = held
            continue
        try:
            found[name] = store.load(name, str(row.get("contract")) or None)
        except HihError:
            continue
    return found


def scrub_logs(report_dir: Path, masker: Masker) -> None:
    """pytest.log, junit.xml and cucumber.json masked again, every string of them. They were written from reports
    masked where they were made (names and node ids too), but a warning or an internal error can carry text that
    masking never saw. Names already masked come out the same, so every artefact still names a scenario alike."""
    log = report_dir / "pytest.log"
    if log.is_file():
        _rewrite(log, masker.text(text := log.read_text(encoding="utf-8", errors="replace")), text)
    junit = report_dir / "junit.xml"
    if junit.is_file():
        text = junit.read_text(encoding="utf-8", errors="replace")
        try:
            _rewrite(junit, _masked_junit(text, masker), text)
        except etree.XMLSyntaxError:
            _rewrite(junit, masker.text(text), text)
    cucumber = report_dir / CUCUMBER_JSON
    if cucumber.is_file():
        text = cucumber.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except ValueError:
            return
        masked = masker.strings(document)
        # masking keeps every other value as it is: documents that compare equal are written alike (≈ 10 ms of
        # encoding a run's cucumber.json twice spared at the end of most runs); else as before
        if masked != document:
            _rewrite(cucumber, json.dumps(masked), json.dumps(document))


SOURCE_PROPERTIES = {"hih_interface"}


def _masked_junit(text: str, masker: Masker) -> str:
    _, root = parse_xml(text)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in ("testsuites", "testsuite"):
            continue  # the suite's name, counts, times
        if element.tag == "testcase":
            for name in ("name", "classname"):
                if element.get(name):
                    element.set(name, masker.nodeid(element.get(name, "")))
            continue
        if element.tag == "property":
            if element.get("name") not in SOURCE_PROPERTIES and element.get("value"):
                element.set("value", masker.text(element.get("value", "")))
            continue
        for name, value in element.attrib.items():
            element.set(name, masker.text(value))
        if element.text:
            element.text = masker.text(element.text)
    return '<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(root, encoding="unicode")


def _rewrite(path: Path, masked: str, original: str) -> None:
    if masked != original:
        path.write_text(masked, encoding="utf-8")


def preload(signoff_pdf: bool = True) -> None:
    """What writing the reports needs, loaded ahead of time (`hih run` does it in a thread while its scenarios run):
    the templates compiled, WeasyPrint imported with its fonts ready (only when the run writes signoff.pdf), and
    hih's installed version read (the summary's, the manifest's), last: well after the pytest processes started."""
    from harness.report import html, signoff

    html.preload()
    signoff.preload()
    if signoff_pdf:
        from harness.report import pdf

        pdf.preload()
    hih_version()


def start_signoff_pdf(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
                      contracts: dict[str, Any] | None = None, finished_open: bool = False) -> PdfAhead | None:
    """signoff.pdf laid out now in a side process (`signoff_ahead`), for `write_reports(..., ahead=...)` to finish:
    `hih run` starts it at its last result, from the summary it expects (`finished_open`: its end time a
    placeholder), or else once its summary is final, so that the laying out (the longest part of the end of a run)
    begins that much sooner. None when no side process is started (then `write_reports` writes the PDF itself)."""
    config = load_config()
    return signoff_ahead(report_dir, summary, evidence, Masker.from_config(config.masking),
                         _contracts(summary, contracts), config.signoff, finished_open)


def signoff_page(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
                 contracts: dict[str, Any] | None = None, finished_open: bool = False) -> AheadPage:
    """The page `start_signoff_pdf` would lay out for this summary and evidence, without starting anything: `hih
    run` compares it with the page a side process started on a prediction is laying out (≈ 5 ms)."""
    config = load_config()
    return page_ahead(report_dir, summary, evidence, Masker.from_config(config.masking),
                      _contracts(summary, contracts), config.signoff, finished_open)


def write_reports(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
                  contracts: dict[str, Any] | None = None, evidence_masked: bool = False,
                  lay_out_ahead: bool = False, signoff_pdf: bool = True, ahead: PdfAhead | None = None,
                  pdf_withheld: str | None = None) -> list[Path]:
    """Write the reports derived from a finished run (or merged shards); returns the files written: report.html,
    manifest.json, then the sign-off pack that prints the manifest's SHA-256 and the seal over that pack.
    `contracts`: the run's contracts by interface where the caller has them loaded (else loaded here).
    `evidence_masked`: the evidence was masked where it was captured, by this configuration's rules (`hih run`).
    `lay_out_ahead`: lay signoff.pdf out in a side process while the other reports are written (`hih run`, which
    has WeasyPrint loaded by now); the same PDF, sooner on a machine with a core to spare.
    `signoff_pdf`: False when signoff.pdf was not asked for (`--no-signoff-pdf`): signoff.html alone, WeasyPrint not
    imported, and the manifest says so (`hih report verify` tells it).
    `ahead`: the side process `start_signoff_pdf` started for this summary and evidence (then `lay_out_ahead` is
    not needed); closed here whatever happens.
    `pdf_withheld`: why signoff.pdf, asked for, is not made (`hih run`: its preloading of WeasyPrint overran its
    bound, `harness.report.preloading`): said in one warning line, as when WeasyPrint cannot be loaded."""
    try:
        config = load_config()
        masker = Masker.from_config(config.masking)
        contracts = _contracts(summary, contracts)
        if ahead is None and lay_out_ahead and signoff_pdf:  # the prediction masks with a copy of this masker
            ahead = signoff_ahead(report_dir, summary, evidence, masker, contracts, config.signoff)
        scrub_logs(report_dir, masker)
        html = report_dir / REPORT_HTML
        html.write_text(render_html(summary, evidence, masker, contracts, hih_version(), evidence_masked),
                        encoding="utf-8")
        for name in WRITTEN_AFTER:  # a pack left from an earlier run in this directory is not this run's
            (report_dir / name).unlink(missing_ok=True)
        manifest = write_manifest(report_dir, summary, {name: c.folder for name, c in contracts.items()}, signoff_pdf)
        pack = write_signoff(report_dir, summary, evidence, masker, contracts, config.signoff, sha256_file(manifest),
                             ahead, signoff_pdf, pdf_withheld)
    finally:
        if ahead is not None:
            ahead.close()
    return [html, manifest, *pack]


def manifest_line(report_dir: Path) -> str:
    """The line `hih run` ends with: the manifest's SHA-256, to copy onto the signed sheet, and the sign-off pack
    to print (signoff.html when the run wrote no signoff.pdf)."""
    path = report_dir / "manifest.json"
    if not path.is_file():
        return ""
    pdf = report_dir / SIGNOFF_PDF
    pack = f"sign-off pack: {pdf}" if pdf.is_file() else f"sign-off page: {report_dir / SIGNOFF_HTML}, no PDF"
    return f"manifest.json sha256 {sha256_file(path)} ({pack})"
