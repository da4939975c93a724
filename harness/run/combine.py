"""Put several junit.xml or cucumber.json files together as one: for `hih report merge` (CI shards) and for a run
whose pytest was restarted after the deadline ended it (the run's segments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree

from harness.errors import UsageError
from harness.report.formats import hardened_parser

SUITE = "hih"


def combine_junit(sources: list[Path], target: Path) -> None:
    """One `<testsuite name="hih">` holding every source's test cases, with the counts added up."""
    suite = etree.Element("testsuite", name=SUITE)
    counts = {"errors": 0, "failures": 0, "skipped": 0, "tests": 0}
    elapsed, stamps = 0.0, []
    for path in sources:
        if not path.is_file():
            continue
        try:
            root = etree.parse(str(path), hardened_parser()).getroot()
        except etree.XMLSyntaxError as exc:
            raise UsageError(f"{path}: not XML ({exc})") from None
        for part in root.iter("testsuite"):
            for key in counts:
                counts[key] += int(part.get(key) or 0)
            elapsed += float(part.get("time") or 0)
            if part.get("timestamp"):
                stamps.append(str(part.get("timestamp")))
            suite.extend(part.findall("testcase"))
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{elapsed:.3f}")
    if stamps:
        suite.set("timestamp", min(stamps))
    root = etree.Element("testsuites", name=SUITE)
    root.append(suite)
    target.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def combine_cucumber(sources: list[Path], target: Path) -> None:
    """The sources' features in one list, ordered by file like a single run's."""
    features: list[Any] = []
    for path in sources:
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UsageError(f"{path}: not JSON ({exc})") from None
        features.extend(document if isinstance(document, list) else [])
    features.sort(key=lambda f: str(f.get("uri", "")) if isinstance(f, dict) else "")
    target.write_text(json.dumps(features, ensure_ascii=False), encoding="utf-8")


def add_failures(junit: Path, failures: list[tuple[str, str, dict[str, str]]]) -> None:
    """A failed test case per (node id, message, properties): scenarios whose process the deadline ended, which
    pytest could not report itself (added) or which pytest-xdist reported as a crashed worker (message replaced)."""
    if junit.is_file():
        root = etree.parse(str(junit), hardened_parser()).getroot()
    else:
        root = etree.Element("testsuites", name=SUITE)
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        suite = etree.SubElement(root, "testsuite", name=SUITE, errors="0", failures="0", skipped="0", tests="0")
    present = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    for nodeid, message, props in failures:
        path, _, name = nodeid.partition("::")
        classname = path.removesuffix(".py").replace("/", ".")
        known = present.get((classname, name))
        if known is not None:  # pytest-xdist reported the ended worker ("crashed"): say why instead
            for old in [*known.findall("failure"), *known.findall("error")]:
                known.remove(old)
            etree.SubElement(known, "failure", message=message.splitlines()[0] if message else "").text = message
            continue
        case = etree.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        if props:
            listed = etree.SubElement(case, "properties")
            for key, value in props.items():
                etree.SubElement(listed, "property", name=key, value=value)
        etree.SubElement(case, "failure", message=message.splitlines()[0] if message else "").text = message
        for key in ("tests", "failures"):
            suite.set(key, str(int(suite.get(key) or 0) + 1))
    junit.write_bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
