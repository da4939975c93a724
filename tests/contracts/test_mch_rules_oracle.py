"""The record rules' lookups in libxml2 find what a lookup by local name in Python finds: each element's first child
of a name, and the ID-card elements, on wide generated records (namespaced or not, repeated and nested elements,
comments, names that only contain IdCard), and so the rules' findings rest on the same elements."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import given, settings
from lxml import etree

from harness.contract.loader import ContractStore
from harness.contract.mch_rules import ORDER, _id_cards, child_named, deadlines, id_card_names, record_rules
from tests.strategies import examples
from tests.xml_trees import tag, xml_trees

LIMITS = deadlines(ContractStore().load("mch-platform"))
NAMESPACES = ("urn:hih:mch:records", "urn:other", "")
NAMES = sorted({n for rules in ORDER.values() for a, b, _ in rules for n in (a, b)} | {d.element for d in LIMITS.values()}
               | {"lateReason", "motherIdCard", "motherIdType", "IdCard", "IdType", "IdCardNo", "childIdCard", "remark",
                  "recordNo", "operation", "uploadSerial"})


def _local(clark: str) -> str:
    return clark.rsplit("}", 1)[-1]


def _scan_child(parent: etree._Element, name: str) -> etree._Element | None:
    """The lookup as first written: a scan of the parent's children, the tag split for each."""
    for child in parent:
        if isinstance(child.tag, str) and _local(child.tag) == name:
            return child
    return None


def _scan_id_cards(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and _local(e.tag).endswith("IdCard")]


RECORDS = xml_trees([tag(n, r) for n in NAMESPACES for r in ("Record", "childIdCard")], NAMES, NAMESPACES)


@settings(max_examples=examples(300), deadline=None)
@given(RECORDS)
def test_the_lookups_find_what_the_scan_by_local_name_finds(root: etree._Element) -> None:
    assert _id_cards(root) == _scan_id_cards(root)
    declared = tuple(n for n in NAMES if n.endswith("IdCard"))  # what a schema declaring these elements gives
    assert _id_cards(root, declared) == _scan_id_cards(root), "found by the declared names: the same elements"
    for element in root.iter():
        if isinstance(element.tag, str):
            for name in NAMES:
                assert child_named(element, name) is _scan_child(element, name), (element.tag, name)


def test_the_rules_read_ids_dates_and_deadlines_through_them() -> None:
    root = etree.Element(tag(NAMESPACES[0], "DeliveryRecord"))
    etree.SubElement(root, tag(NAMESPACES[1], "motherIdCard")).text = "110105194912310021"
    etree.SubElement(root, "lastMenstrualPeriod").text = "2026-11-01"
    etree.SubElement(root, tag(NAMESPACES[1], "deliveryDateTime")).text = "2026-10-01T08:00:00"
    group = etree.SubElement(root, "father")
    etree.SubElement(group, "fatherIdType").text = "03"
    etree.SubElement(group, "fatherIdCard").text = "E12345678"
    found = record_rules("DELIVERY", root, date(2026, 12, 6), LIMITS)
    assert [(f.rule, f.location) for f in found] == [("id-check", "/DeliveryRecord/motherIdCard"),
                                                      ("date-order", "/DeliveryRecord/deliveryDateTime"),
                                                      ("deadline", "/DeliveryRecord/lateReason")], found
    etree.SubElement(root, tag(NAMESPACES[1], "lateReason")).text = "转诊"
    assert [f.rule for f in record_rules("DELIVERY", root, date(2026, 12, 6), LIMITS)] == ["id-check", "date-order"]


def test_the_id_card_names_are_read_from_the_contracts_schemas(tmp_path: Path) -> None:
    for version in ("2024.1", "2025.1"):
        assert id_card_names(ContractStore().load("mch-platform", version).folder) == ("fatherIdCard", "motherIdCard")
    xs = 'xmlns:xs="http://www.w3.org/2001/XMLSchema"'
    (tmp_path / "a.xsd").write_text(f'<xs:schema {xs}><xs:element name="remark" type="xs:string"/></xs:schema>')
    assert id_card_names(tmp_path) == ()
    (tmp_path / "b.xsd").write_text(f'<xs:schema {xs}><xs:element name="childIdCard" type="xs:string"/>'
                                    '<xs:complexType name="Open"><xs:sequence><xs:any processContents="lax"/>'
                                    "</xs:sequence></xs:complexType></xs:schema>")
    assert id_card_names(tmp_path) is None, "a wildcard: any element may be an ID card, every one is looked at"
