"""The record rules' one-pass lookups find what the general lookup by local name finds: the same findings, in the same
order, on wide generated records (namespaced or not, repeated and nested elements, comments, ID cards anywhere)."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from harness.contract.findings import Finding, Severity
from harness.contract.identifiers import resident_id_problem
from harness.contract.loader import ContractStore
from harness.contract.mch_rules import CORRECTION, ORDER, RESIDENT_ID_CARD, Deadline, deadlines, record_rules
from harness.contract.soap_validate import location_of

assert CORRECTION  # the module's public names stay what the rules read
TODAY = date(2026, 12, 6)
LIMITS = deadlines(ContractStore().load("mch-platform"))
NAMESPACES = ("urn:hih:mch:records", "urn:other", "")
DATE_NAMES = sorted({n for rules in ORDER.values() for a, b, _ in rules for n in (a, b)} | {d.element for d in LIMITS.values()})
ID_PEOPLE = ("mother", "father", "child", "")
GOOD_ID = "11010519491231002X"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(root: etree._Element, name: str) -> etree._Element | None:
    for child in root:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            return child
    return None


def _date(element: etree._Element | None) -> date | None:
    text = (element.text or "").strip() if element is not None else ""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def reference(record_type: str, root: etree._Element, today: date, limits: dict[str, Deadline], prefix: str = "") -> list[Finding]:
    """The rules as first written: every element's local name split, each child found by a scan of its parent."""
    findings: list[Finding] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or not _local(element.tag).endswith("IdCard"):
            continue
        name = _local(element.tag)
        parent = element.getparent()
        id_type = _child(parent, name[: -len("IdCard")] + "IdType") if parent is not None else None
        if id_type is None or (id_type.text or "").strip() == RESIDENT_ID_CARD:
            problem = resident_id_problem((element.text or "").strip())
            if problem:
                findings.append(Finding(Severity.ERROR, prefix + location_of(element), f"{name}: {problem}", "id-check"))
    for earlier, later, equal in ORDER.get(record_type, ()):
        first, second = _child(root, earlier), _child(root, later)
        a, b = _date(first), _date(second)
        if a is not None and b is not None and (a > b or (a == b and not equal)):
            assert second is not None
            findings.append(Finding(Severity.ERROR, prefix + location_of(second),
                                    f"{later} ({b}) must be {'on or ' if equal else ''}after {earlier} ({a})", "date-order"))
    limit = limits.get(record_type)
    if limit is not None:
        event_el = _child(root, limit.element)
        event = _date(event_el)
        if event is not None and event_el is not None:
            if event > today:
                findings.append(Finding(Severity.ERROR, prefix + location_of(event_el),
                                        f"{limit.element} ({event}) is in the future", "future-date"))
            elif (today - event).days > limit.days and _child(root, "lateReason") is None:
                findings.append(Finding(Severity.ERROR, prefix + location_of(root) + "/lateReason",
                                        f"reported {(today - event).days} days after {limit.element} (limit {limit.days}): "
                                        "lateReason is required", "deadline"))
    return findings


def _tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}" if namespace else name


dates = st.one_of(st.dates(date(2020, 1, 1), date(2027, 12, 31)).map(date.isoformat),
                  st.dates(date(2020, 1, 1), date(2027, 12, 31)).map(lambda d: d.isoformat() + "T08:30:00"),
                  st.sampled_from(["", "  ", "2026-13-01", "soon"]))
ids = st.one_of(st.just(GOOD_ID), st.just(GOOD_ID[:-1] + "1"), st.text("0123456789X", min_size=0, max_size=19))
leaf = st.tuples(st.sampled_from(NAMESPACES), st.one_of(
    st.tuples(st.sampled_from(DATE_NAMES), dates),
    st.tuples(st.sampled_from(ID_PEOPLE).map(lambda p: p + "IdCard"), ids),
    st.tuples(st.sampled_from(ID_PEOPLE).map(lambda p: p + "IdType"), st.sampled_from(["01", " 01 ", "03", ""])),
    st.tuples(st.sampled_from(["lateReason", "remark", "IdCardX"]), st.text("abc 说明", max_size=5))))


@st.composite
def records(draw: st.DrawFn) -> etree._Element:
    namespace = draw(st.sampled_from(NAMESPACES))
    root = etree.Element(_tag(namespace, "Record"))
    for _ in range(draw(st.integers(0, 14))):
        if draw(st.integers(0, 9)) == 0:
            root.append(etree.Comment("note"))
            continue
        holder = root
        if draw(st.integers(0, 4)) == 0:  # a group: ID cards and their types one level down
            holder = etree.SubElement(root, _tag(draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(["mother", "child"]))))
        for ns, (name, text) in draw(st.lists(leaf, min_size=1, max_size=3)):
            etree.SubElement(holder, _tag(ns, name)).text = text
    return root


@settings(max_examples=300, deadline=None)
@given(records(), st.sampled_from(sorted(ORDER) + ["UNKNOWN"]), st.sampled_from(["", "payload#"]))
def test_the_rules_find_what_the_lookup_by_local_name_finds(root: etree._Element, record_type: str, prefix: str) -> None:
    assert record_rules(record_type, root, TODAY, LIMITS, prefix) == reference(record_type, root, TODAY, LIMITS, prefix)


def test_the_oracle_sees_findings_at_all() -> None:
    """The generated records reach every rule, so agreement above is not agreement on nothing."""
    root = etree.Element(_tag(NAMESPACES[0], "Record"))
    etree.SubElement(root, "motherIdCard").text = GOOD_ID[:-1] + "1"
    etree.SubElement(root, "lastMenstrualPeriod").text = "2026-11-01"
    etree.SubElement(root, _tag(NAMESPACES[1], "deliveryDateTime")).text = "2026-10-01T08:00:00"
    rules = [f.rule for f in record_rules("DELIVERY", root, TODAY, LIMITS)]
    assert rules == [f.rule for f in reference("DELIVERY", root, TODAY, LIMITS)]
    assert rules[:2] == ["id-check", "date-order"], rules
