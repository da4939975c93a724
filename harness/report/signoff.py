"""The sign-off pack: signoff.html and signoff.pdf, a short Chinese-first release verdict a hospital signs.

Two or three A4 pages for a passing run of every interface: the verdict (放行 / 不予放行) overall and per
interface; hospital, release, operator, host, CI job, hih version, start and end; per interface the contract in
force (version, effective date) and the connector's identity; what changed since the last recorded run; the
failures in business words; the manifest's SHA-256; and a signature block for the information department, the
clinical department owning each interface and the vendor. It is built from summary.json and evidence.json
(masked again here), the contracts, the run history and hih.toml's `[signoff]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from harness.config import SignoffConfig
from harness.contract.interfaces import INTERFACES
from harness.report.changes import InterfaceChanges, compare
from harness.report.failures import BusinessFailure, business_failure
from harness.report.manifest import connector_entry
from harness.report.masking import Masker

if TYPE_CHECKING:
    from harness.report.pdf_ahead import PdfAhead
    from harness.run.identity import ConnectorIdentity

HERE = Path(__file__).parent
SIGNOFF_HTML = "signoff.html"
SIGNOFF_PDF = "signoff.pdf"
FAILURE_LIMIT = 12
"""Failures told in full; more are listed one line each (report.html has every one)."""
FAILURE_LINE_LIMIT = 40
DEPARTMENTS = {name: described.department for name, described in INTERFACES.items()}
"""The clinical department that owns each interface by default (its descriptor's `department`); hih.toml
`[signoff] departments` overrides."""
IDENTITY_KINDS = {"files-sha256": ("文件校验值", "SHA-256 of its files"), "version": ("版本", "version"),
                  "env": ("环境变量", "environment"), "listener": ("外部监听端口", "black-box listener")}


@dataclass
class InterfaceVerdict:
    name: str
    title: str
    passed: bool
    contract: str
    effective: str
    identity: ConnectorIdentity
    counts: dict[str, int]
    department: str


@dataclass
class SignoffView:
    """Everything the pack shows, masked, in reading order."""

    decision: str
    hospital: str
    release: str
    operator: str
    host: str
    ci_job_url: str
    hih_version: str
    started: str
    finished: str
    totals: dict[str, int]
    manifest_sha256: str
    interfaces: list[InterfaceVerdict]
    changes: list[InterfaceChanges]
    failures: list[BusinessFailure]
    more_failures: list[BusinessFailure] = field(default_factory=list)
    hidden_failures: int = 0
    tags: str = ""
    selection: bool = False
    information_department: str = "信息科"
    vendor: str = ""
    departments: list[tuple[str, list[str]]] = field(default_factory=list)
    """(department, the interfaces it signs for), in interface order."""


def connector_identity(interface: str, row: dict[str, Any]) -> ConnectorIdentity:
    """summary.json's `connector_identity` when the run wrote one; else the SHA-256 of the connector's module."""
    from harness.run.identity import ConnectorIdentity, git_commit

    given = row.get("connector_identity")
    label = str(row.get("connector", ""))
    if isinstance(given, dict) and given.get("value"):
        return ConnectorIdentity(str(given.get("name") or label), str(given.get("label") or label),
                                 str(given.get("kind") or "version"), str(given["value"]),
                                 str(given["git_commit"]) if given.get("git_commit") else None)
    spec = label.split(";")[0].strip()
    entry = connector_entry(interface, spec)
    if "hospital listener" in label:
        return ConnectorIdentity(spec, label, "listener", label.rsplit(" ", 1)[-1])
    module = entry.get("module_file")
    return ConnectorIdentity(spec, label, "files-sha256", str(entry.get("sha256") or "?"),
                             git_commit(Path(module).parent) if module else None)


def _operations(contract: Any) -> dict[str, str]:
    return {k: op.name for k, op in getattr(contract, "operations", {}).items()}


def build_signoff(summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], masker: Masker,
                  contracts: dict[str, Any], config: SignoffConfig, previous: dict[str, dict[str, Any]],
                  manifest_sha256: str) -> SignoffView:
    interfaces = []
    for name, row in (summary.get("interfaces") or {}).items():
        contract = contracts.get(name)
        effective = row.get("contract_effective") or getattr(contract, "effective", "") or getattr(contract, "released", "")
        counts = {k: int(row.get(k, 0)) for k in ("passed", "failed", "skipped")}
        interfaces.append(InterfaceVerdict(
            name=name, title=str(getattr(contract, "title", "") or ""), passed=counts["failed"] == 0 and counts["passed"] > 0,
            contract=str(row.get("contract", "")), effective=str(effective or ""),
            identity=connector_identity(name, row), counts=counts,
            department=config.departments.get(name) or DEPARTMENTS.get(name, "")))
    failures = []
    for scenario in summary.get("scenarios") or []:
        if scenario.get("status") != "failed":
            continue
        exchanges = evidence.get(str(scenario.get("nodeid", ""))) or []
        failure = business_failure(masker.strings(scenario), exchanges,
                                   _operations(contracts.get(str(scenario.get("interface")))))
        failures.append(failure)
    departments: dict[str, list[str]] = {}
    for verdict in interfaces:
        departments.setdefault(verdict.department or "临床科室", []).append(verdict.name)
    return SignoffView(
        decision=str(summary.get("decision", "fail")), hospital=config.hospital, release=str(summary.get("release") or ""),
        operator=masker.text(str(summary.get("operator") or "")), host=str(summary.get("host") or ""),
        ci_job_url=str(summary.get("ci_job_url") or ""), hih_version=str(summary.get("hih_version") or ""),
        started=str(summary.get("started") or ""), finished=str(summary.get("finished") or ""),
        totals={k: int((summary.get("totals") or {}).get(k, 0)) for k in ("passed", "failed", "skipped")},
        manifest_sha256=manifest_sha256, interfaces=interfaces,
        changes=compare(masker.strings(summary), previous),
        failures=failures[:FAILURE_LIMIT], more_failures=failures[FAILURE_LIMIT:FAILURE_LIMIT + FAILURE_LINE_LIMIT],
        hidden_failures=max(0, len(failures) - FAILURE_LIMIT - FAILURE_LINE_LIMIT),
        tags=str(summary.get("tags") or ""), selection=bool(summary.get("selection")),
        information_department=config.information_department or "信息科", vendor=config.vendor,
        departments=list(departments.items()))


@cache
def _environment() -> jinja2.Environment:
    """One per process: a template is compiled once (`hih run` does it while its scenarios run, `preload`)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(IDENTITY_KINDS=IDENTITY_KINDS, when=shown_time)
    return env


def shown_time(iso: str | None) -> str:
    """How the pack shows a time of summary.json (`2026-12-06 20:00:09+08:00`; `-` when there is none)."""
    return iso.replace("T", " ") if iso else "-"


def preload() -> None:
    """Compile the sign-off's template ahead of time."""
    _environment().get_template("signoff.html.j2")


def render_signoff(view: SignoffView) -> str:
    css = (HERE / "templates" / "signoff.css").read_text(encoding="utf-8")
    return _environment().get_template("signoff.html.j2").render(view=view, css=css)


def _print_css() -> str:
    return (HERE / "templates" / "signoff-print.css").read_text(encoding="utf-8")


MANIFEST_PLACEHOLDER = "0" * 64
"""What the sign-off laid out ahead shows in place of the manifest's SHA-256: 64 hexadecimal digits, as wide in
the monospaced face as any digest."""
MANIFEST, FINISHED = "manifest", "finished"
"""The names of the values a sign-off laid out ahead leaves open (harness.report.pdf_ahead's placeholders)."""


@dataclass(frozen=True)
class AheadPage:
    """The sign-off page as a side process lays it out ahead (`signoff_ahead`): its HTML, and the text each value
    not yet known shows in it (harness.report.pdf_ahead's placeholders, by name). Two predictions that give equal
    pages give the same PDF: a side process laid out from one serves the other."""

    html: str
    placeholders: dict[str, str]


def page_ahead(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
               masker: Masker, contracts: dict[str, Any], config: SignoffConfig,
               finished_open: bool = False) -> AheadPage:
    """The page `write_signoff` is expected to render for `summary`, with placeholders in place of the manifest's
    SHA-256 (and of the end time when `finished_open`: `summary`'s `finished` is the time the run is expected to
    finish; digits are replaced by digits as wide). `masker` is not changed (a copy of it masks here)."""
    from harness.run.history import history_path, previous_runs

    predicting = masker.scoped()
    predicting.remember(masker.learned)
    previous = previous_runs(history_path(report_dir), list(summary.get("interfaces") or {}), summary.get("started"))
    html = render_signoff(build_signoff(summary, evidence, predicting, contracts, config, previous,
                                        MANIFEST_PLACEHOLDER))
    placeholders = {MANIFEST: MANIFEST_PLACEHOLDER}
    if finished_open:
        finished = summary.get("finished")
        # the end time's text must show nowhere else on the page (a short run's start shows the same second): the
        # side process puts the final end time everywhere its placeholder is, and the page would differ from the
        # final one; a second later is as wide, and replaced all the same
        for _ in range(FINISHED_TRIES):
            if not finished or _shown_once(html, shown_time(finished)):
                break
            finished = (datetime.fromisoformat(finished) + timedelta(seconds=1)).isoformat(timespec="seconds")
            html = render_signoff(build_signoff({**summary, "finished": finished}, evidence, predicting, contracts,
                                                config, previous, MANIFEST_PLACEHOLDER))
        placeholders[FINISHED] = shown_time(finished)
    return AheadPage(html, placeholders)


FINISHED_TRIES = 4
"""How many end times `page_ahead` tries for one that shows nowhere else on the page (past them the side process
finds the page differs from the final one, and the run writes the PDF itself)."""


def _shown_once(html: str, text: str) -> bool:
    """Whether `text` is on the page once (a `<meta>`'s content is not shown)."""
    return html.count(text) - html.count(f'content="{text}"') == 1


def start_ahead(report_dir: Path, page: AheadPage) -> PdfAhead | None:
    """A side process laying `page` out now for report_dir's signoff.pdf; None when none can be started."""
    from harness.report.pdf_ahead import PdfAhead

    return PdfAhead.start(page.html, page.placeholders, report_dir / SIGNOFF_PDF, _print_css())


def signoff_ahead(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]],
                  masker: Masker, contracts: dict[str, Any], config: SignoffConfig,
                  finished_open: bool = False) -> PdfAhead | None:
    """signoff.pdf laid out in a side process now, before manifest.json exists (harness.report.pdf_ahead), from
    the page as `write_signoff` is expected to render it (`page_ahead`); `write_signoff` hands it the page it
    renders then. `finished_open`: `summary`'s `finished` is the time the run is expected to finish (`hih run`
    starts the side process before pytest has exited): its text is a placeholder too."""
    from harness.report.pdf_ahead import PdfAhead

    if not PdfAhead.possible():  # the page would be rendered for nothing
        return None
    return start_ahead(report_dir, page_ahead(report_dir, summary, evidence, masker, contracts, config,
                                              finished_open))


def write_signoff(report_dir: Path, summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], masker: Masker,
                  contracts: dict[str, Any], config: SignoffConfig, manifest_sha256: str,
                  ahead: PdfAhead | None = None, pdf: bool = True, withheld: str | None = None) -> list[Path]:
    """signoff.html and signoff.pdf (when WeasyPrint can be loaded; else a one-line warning), then the seal.
    `ahead`: the PDF laid out already (`signoff_ahead`); it is written from this page's layout only when the page
    is the one it laid out, else here as without it. `pdf`: False when no PDF was asked for (signoff.html alone;
    WeasyPrint is not imported). `withheld`: why the PDF, asked for, is not made (WeasyPrint is not touched)."""
    import sys

    from harness.report.manifest import write_seal
    from harness.report.pdf import PdfUnavailable, render_pdf
    from harness.run.history import history_path, previous_runs

    previous = previous_runs(history_path(report_dir), list(summary.get("interfaces") or {}), summary.get("started"))
    html = render_signoff(build_signoff(summary, evidence, masker, contracts, config, previous, manifest_sha256))
    written = [report_dir / SIGNOFF_HTML]
    written[0].write_text(html, encoding="utf-8")
    if not pdf:
        return [*written, write_seal(report_dir)]
    if withheld is not None:
        sys.stderr.write(f"hih: warning: signoff.pdf not written: {withheld}\n")
        return [*written, write_seal(report_dir)]
    try:
        known = {MANIFEST: manifest_sha256, FINISHED: shown_time(summary.get("finished"))}
        if ahead is None or ahead.finish(html, {name: known[name] for name in ahead.placeholders}) is None:
            render_pdf(html, report_dir / SIGNOFF_PDF, _print_css())
        written.append(report_dir / SIGNOFF_PDF)
    except PdfUnavailable as exc:
        sys.stderr.write(f"hih: warning: signoff.pdf not written: {exc}\n")
    return [*written, write_seal(report_dir)]
