"""The files a load run leaves: load.json (everything measured), junit.xml (one test case per SLA, for CI) and
load.html (one self-contained page: the verdicts, a table per transaction, errors by kind and three charts drawn
by pygal as inline SVG)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).resolve().parent


def write_json(doc: dict[str, Any], folder: Path) -> Path:
    path = folder / "load.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_junit(doc: dict[str, Any], folder: Path) -> Path:
    """A test suite `hih load <interface> <profile>` with a case per SLA: a failure says expected and measured."""
    verdicts = doc["slas"]
    suite = ET.Element("testsuite", name=f"hih load {doc['interface']} {doc['profile']}", tests=str(len(verdicts)),
                       failures=str(sum(not v["passed"] for v in verdicts)), errors="0", skipped="0",
                       time=f"{doc['measured_s']:.3f}", timestamp=doc["started"])
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"load.{doc['interface']}.{doc['profile']}",
                             name=verdict["sla"], time=f"{doc['measured_s']:.3f}")
        if not verdict["passed"]:
            failure = ET.SubElement(case, "failure", message=verdict["reason"], type="SLA")
            failure.text = json.dumps(verdict, ensure_ascii=False, indent=1)
        else:
            ET.SubElement(case, "system-out").text = verdict["reason"]
    root = ET.Element("testsuites", name="hih load")
    root.append(suite)
    path = folder / "junit.xml"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _pygal() -> Any:
    """pygal, imported when a page is drawn. Its import appends a finder of its own (for `pygal.maps` plugins) to
    `sys.meta_path` that lacks `find_spec`, so every later import that reaches it warns: it is taken out again."""
    import pygal

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]
    return pygal


def _chart(kind: Any, title: str, y_title: str, **options: Any) -> Any:
    from pygal.style import DefaultStyle

    return kind(title=title, y_title=y_title, style=DefaultStyle, js=[], disable_xml_declaration=True, height=320,
                width=900, show_dots=False, truncate_legend=-1, legend_at_bottom=True, **options)


def charts(doc: dict[str, Any]) -> list[str]:
    """Throughput and p99 over time per transaction, and the percentiles of each transaction (inline SVG)."""
    pygal = _pygal()
    names = list(doc["transactions"])
    seconds = [row["second"] for row in doc["timeline"]]
    labels = [str(s) for s in seconds]
    rate = _chart(pygal.Line, "Throughput per second (completed calls) · 每秒完成的调用", "calls/s", x_title="s",
                  x_labels_major_every=max(1, len(labels) // 10), show_minor_x_labels=False)
    rate.x_labels = labels
    p99 = _chart(pygal.Line, "Latency over time (p99 of each second) · 每秒 P99 响应时间", "ms", x_title="s",
                 x_labels_major_every=max(1, len(labels) // 10), show_minor_x_labels=False)
    p99.x_labels = labels
    for name in names:
        rate.add(name, [row["transactions"].get(name, {}).get("done") for row in doc["timeline"]])
        p99.add(name, [row["transactions"].get(name, {}).get("p99_ms") for row in doc["timeline"]])
    bars = _chart(pygal.Bar, "Latency percentiles per transaction · 各交易响应时间分位数", "ms", logarithmic=True)
    bars.x_labels = names
    for label, key in (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"), ("max", "max_ms")):
        bars.add(label, [max(doc["transactions"][n][key], 0.001) for n in names])
    return [str(chart.render(is_unicode=True)) for chart in (rate, p99, bars)]


def write_html(doc: dict[str, Any], folder: Path) -> Path:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    page = env.get_template("load.html.j2").render(doc=doc, charts=[jinja2.utils.markupsafe.Markup(c) for c in charts(doc)])
    path = folder / "load.html"
    path.write_text(page, encoding="utf-8")
    return path
