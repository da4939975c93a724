"""report.html: the sign-off report of one run, one self-contained printable file in Chinese and English.

The page is built from summary.json and evidence.json (masked again here, defensively) through a jinja2 template
with autoescaping on: every message is untrusted text. No request leaves the page: CSS and the small script are
inline, and a Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from harness.report.formats import prepare, pretty
from harness.report.masking import Masker

HERE = Path(__file__).parent
STATUS_ORDER = {"failed": 0, "passed": 1, "skipped": 2}
STATUS_LABEL = {"failed": ("失败", "Failed"), "passed": ("通过", "Passed"), "skipped": ("跳过", "Skipped")}
DIRECTION_LABEL = {"inbound": ("接口程序 → 对方（模拟）", "connector → partner (mock)"),
                   "outbound": ("对方（模拟） → 接口程序", "partner (mock) → connector")}
SEVERITY_LABEL = {"error": ("错误", "error"), "warning": ("警告", "warning"), "info": ("提示", "info")}


@dataclass
class Side:
    """One message of an exchange as a reader sees it."""

    label: tuple[str, str]
    kind: str
    text: str
    parsed: bool
    findings: list[dict[str, Any]]


@dataclass
class ExchangeView:
    number: int
    operation: str
    operation_name: str
    direction: tuple[str, str]
    status: str
    fault: str
    duration_ms: float
    at: str
    where: str
    request: Side | None
    response: Side | None

    @property
    def finding_count(self) -> int:
        return sum(len(s.findings) for s in (self.request, self.response) if s is not None)


@dataclass
class ScenarioView:
    anchor: str
    interface: str
    feature: str
    name: str
    status: str
    duration_s: float
    message: str
    nodeid: str
    steps: list[dict[str, Any]]
    exchanges: list[ExchangeView]
    findings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InterfaceView:
    name: str
    anchor: str
    title: str
    contract: str
    connector: str
    passed: int
    failed: int
    skipped: int
    duration_s: float
    scenarios: list[ScenarioView]


def _time(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return iso


def prepare_exchanges(exchanges: list[dict[str, Any]]) -> None:
    """Lay out a scenario's messages for the reader ahead of `render_html` (`hih run`: as its result arrives)."""
    for entry in exchanges:
        for side in ("request", "response"):
            raw = entry.get(f"{side}_raw")
            if isinstance(raw, dict) and isinstance(raw.get("text"), str):
                prepare(raw["text"], entry.get("transport"))


def _side(entry: dict[str, Any], side: str, label: tuple[str, str]) -> Side | None:
    raw = entry.get(f"{side}_raw")
    findings = [dict(f) for f in entry.get(f"{side}_findings") or []]
    if isinstance(raw, dict) and isinstance(raw.get("text"), str):
        kind, text, parsed = pretty(raw["text"], entry.get("transport"))
        return Side(label, kind, text, parsed, findings)
    if isinstance(raw, dict) and raw.get("base64"):  # not text: say so rather than show bytes
        size = len(base64.b64decode(raw["base64"]))
        return Side(label, "binary", f"({size} bytes, not text)", True, findings)
    if findings:
        return Side(label, "none", "", True, findings)
    return None


def _exchange(entry: dict[str, Any], operations: dict[str, str]) -> ExchangeView:
    started = entry.get("started")
    meta = entry.get("meta") or {}
    operation = str(entry.get("operation") or "?")
    return ExchangeView(
        number=int(entry.get("id") or 0), operation=operation, operation_name=operations.get(operation, ""),
        direction=DIRECTION_LABEL.get(str(entry.get("direction")), (str(entry.get("direction") or ""), "")),
        status="" if entry.get("status") is None else str(entry["status"]), fault=str(entry.get("fault") or ""),
        duration_ms=float(entry.get("duration_ms") or 0.0),
        at=datetime.fromtimestamp(started).strftime("%H:%M:%S.%f")[:-3] if isinstance(started, int | float) else "",
        where=" ".join(str(meta[k]) for k in ("method", "path") if meta.get(k)) or str(entry.get("transport") or ""),
        request=_side(entry, "request", ("请求", "Request")),
        response=_side(entry, "response", ("应答", "Response")),
    )


def _display_name(scenario: dict[str, Any]) -> str:
    """The scenario's name; an outline skipped before it was rendered (`<交易>` left in) gets its example's id."""
    name, nodeid = str(scenario.get("name", "")), str(scenario.get("nodeid", ""))
    if re.search(r"<[^<>]+>", name) and nodeid.endswith("]") and "[" in nodeid:
        return f"{name} [{nodeid[nodeid.index('[') + 1:-1]}]"
    return name


def _anchor(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


def build_view(summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], masker: Masker,
               contracts: dict[str, Any] | None = None, evidence_masked: bool = False) -> dict[str, Any]:
    """Everything the template shows, masked, in reading order: failures first within each interface.

    `evidence_masked`: the exchanges were masked where they were captured, by the same rules (a `hih run`: the
    plugin masks each scenario's evidence before anything is written), so they are shown as they are; masking them
    again would give the same text at ≈ 2 ms an exchange. Other evidence (merged shards) is masked here."""
    contracts = contracts or {}
    masked = evidence if evidence_masked else {nodeid: [masker.exchange(e) for e in entries]
                                               for nodeid, entries in evidence.items()}
    interfaces: list[InterfaceView] = []
    failed_list: list[ScenarioView] = []
    counter = 0
    for number, (name, row) in enumerate((summary.get("interfaces") or {}).items(), start=1):
        contract = contracts.get(name)
        operations = {k: op.name for k, op in getattr(contract, "operations", {}).items()}
        rows = [s for s in summary.get("scenarios") or [] if s.get("interface") == name]
        rows.sort(key=lambda s: STATUS_ORDER.get(s.get("status", ""), 3))  # stable: keeps feature order within
        scenarios = []
        for s in rows:
            counter += 1
            exchanges = [_exchange(e, operations) for e in masked.get(s.get("nodeid", ""), [])]
            view = ScenarioView(
                anchor=_anchor("s", counter), interface=name, feature=masker.text(str(s.get("feature", ""))),
                name=masker.text(_display_name(s)), status=str(s.get("status", "")),
                duration_s=float(s.get("duration_s") or 0.0), message=masker.text(str(s.get("message") or "")),
                nodeid=str(s.get("nodeid", "")),
                steps=[{"keyword": str(step.get("keyword", "")), "name": masker.text(str(step.get("name", ""))),
                        "status": str(step.get("status", "")), "error": masker.text(str(step.get("error") or ""))}
                       for step in s.get("steps") or []],
                exchanges=exchanges,
                findings=[{**f, "operation": x.operation, "side": side.label}
                          for x in exchanges for side in (x.request, x.response) if side is not None
                          for f in side.findings],
            )
            scenarios.append(view)
            if view.status == "failed":
                failed_list.append(view)
        interfaces.append(InterfaceView(
            name=name, anchor=_anchor("if", number), title=str(getattr(contract, "title", "") or ""),
            contract=str(row.get("contract", "")), connector=str(row.get("connector", "")),
            passed=int(row.get("passed", 0)), failed=int(row.get("failed", 0)), skipped=int(row.get("skipped", 0)),
            duration_s=float(row.get("duration_s") or 0.0), scenarios=scenarios))
    return {
        "decision": summary.get("decision", "fail"),
        "started": _time(summary.get("started")), "finished": _time(summary.get("finished")),
        "duration_s": summary.get("duration_s", 0), "workers": summary.get("workers", 1),
        "tags": summary.get("tags") or "", "totals": summary.get("totals") or {},
        "interfaces": interfaces, "failed": failed_list,
        "collect_errors": [masker.text(str(e)) for e in summary.get("collect_errors") or []],
    }


@cache
def _environment() -> jinja2.Environment:
    """One per process: a template is compiled once (`hih run` does it while its scenarios run, `preload`)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(STATUS_LABEL=STATUS_LABEL, SEVERITY_LABEL=SEVERITY_LABEL)
    return env


def preload() -> None:
    """Compile the page's template ahead of time."""
    _environment().get_template("report.html.j2")


def render_html(summary: dict[str, Any], evidence: dict[str, list[dict[str, Any]]], masker: Masker,
                contracts: dict[str, Any] | None = None, hih_version: str = "", evidence_masked: bool = False) -> str:
    """The report page as one string (`evidence_masked`: see `build_view`)."""
    script = (HERE / "templates" / "report.js").read_text(encoding="utf-8")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return _environment().get_template("report.html.j2").render(
        **build_view(summary, evidence, masker, contracts, evidence_masked),
        css=(HERE / "templates" / "report.css").read_text(encoding="utf-8"),
        script=script, script_hash=script_hash, hih_version=hih_version,
    )
