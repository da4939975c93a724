"""The SOAP differ (`soap`): the example contract copied as two versions, the second edited for each classification,
compared with `diff_contracts` and through `hih contract diff`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.contract.diff import Change, Classification, ContractDiff, diff_contracts
from harness.contract.loader import ContractStore
from tests.conftest import ROOT

BREAKING, COMPATIBLE, INFO = Classification.BREAKING, Classification.COMPATIBLE, Classification.INFO
EXAMPLE = ROOT / "tests" / "data" / "soap" / "example" / "2025.1"
WSDL, COMMON, YAML = "ExampleService.wsdl", "xsd/common.xsd", "contract.yaml"
BIRTH, TYPES = "records/birth-notice.xsd", "records/record-types.xsd"


def versions(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """Contracts folder with example 2025.1 and a 2025.2 edited by (old, new) replacements per file."""
    root = tmp_path / "contracts"
    shutil.copytree(EXAMPLE, root / "example" / "2025.1")
    shutil.copytree(EXAMPLE, root / "example" / "2025.2")
    edits = {**edits, YAML: [('version: "2025.1"', 'version: "2025.2"'), *edits.get(YAML, [])]}
    for rel, replacements in edits.items():
        path = root / "example" / "2025.2" / rel
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text, f"{old!r} not in {rel}"
            text = text.replace(old, new, 1)
        path.write_text(text, encoding="utf-8")
    return root


def diff(tmp_path: Path, edits: dict[str, list[tuple[str, str]]]) -> ContractDiff:
    store = ContractStore(versions(tmp_path, edits))
    return diff_contracts(store.load("example", "2025.1"), store.load("example", "2025.2"))


def at(result: ContractDiff, location: str) -> list[Change]:
    found = [c for c in result.changes if c.location == location]
    assert found, f"no change at {location}: {[c.location for c in result.changes]}"
    return found


def only(result: ContractDiff, location: str) -> Change:
    found = at(result, location)
    assert len(found) == 1, found
    return found[0]


def test_same_contract_no_change(tmp_path: Path) -> None:
    result = diff(tmp_path, {})
    assert result.changes == [] and not result.breaking and result.transport == "soap"


def test_request_element_newly_required_breaks_senders(tmp_path: Path) -> None:
    result = diff(tmp_path, {WSDL: [('<xs:element name="remark" type="xs:string" minOccurs="0"/>',
                                     '<xs:element name="remark" type="xs:string"/>')]})
    change = only(result, "SubmitOrder input /order/remark")
    assert (change.classification, change.category, change.side) == (BREAKING, "cardinality-changed", "request")
    assert (change.old, change.new) == ("0..1", "1..1") and "rejected" in change.message
    assert change.targets[0].operation == "SubmitOrder" and change.targets[0].path == "/order/remark"


def test_response_element_becoming_required_is_compatible_and_optional_breaks(tmp_path: Path) -> None:
    result = diff(tmp_path, {WSDL: [
        ('<xs:element name="orderId" type="xs:string" minOccurs="0"/>', '<xs:element name="orderId" type="xs:string"/>'),
        ('<xs:element name="ResultMessage" type="xs:string"/>\n            <xs:element name="orderId"',
         '<xs:element name="ResultMessage" type="xs:string" minOccurs="0"/>\n            <xs:element name="orderId"'),
    ]})
    assert only(result, "SubmitOrder output /orderId").classification is COMPATIBLE
    assert only(result, "SubmitOrder output /ResultMessage").classification is BREAKING


def test_removed_and_added_elements(tmp_path: Path) -> None:
    result = diff(tmp_path, {WSDL: [
        ('<xs:element name="status" type="c:OrderStatus" minOccurs="0"/>', ""),
        ('<xs:element name="remark" type="xs:string" minOccurs="0"/>',
         ('<xs:element name="remark" type="xs:string" minOccurs="0"/>\n'
         '          <xs:element name="ward" type="xs:string" minOccurs="0"/>\n'
         '          <xs:element name="bed" type="xs:string"/>')),
    ]})
    gone = only(result, "SubmitOrder output /status")
    assert (gone.classification, gone.category) == (BREAKING, "field-removed") and "readers" in gone.message
    assert only(result, "SubmitOrder input /order/ward").classification is COMPATIBLE
    bed = only(result, "SubmitOrder input /order/bed")
    assert (bed.classification, bed.category) == (BREAKING, "field-added")


def test_enumeration_narrowed_in_request_is_a_breaking_code_table_change(tmp_path: Path) -> None:
    # AboGroup is bound to code table abo (value_sets): reported once, on the table, with its fields as impact
    result = diff(tmp_path, {COMMON: [('<xs:enumeration value="AB"/>\n', "")], YAML: [("AB: AB 型, ", "")]})
    change = only(result, "contract.yaml /code_tables/abo/values")
    assert (change.classification, change.category, change.old) == (BREAKING, "code-values-removed", ["AB"])
    assert [(t.operation, t.side, t.path) for t in change.targets] == [("SubmitOrder", "request", "/order/item/aboGroup")]
    assert not [c for c in result.changes if c.location.endswith("/aboGroup")]


def test_enumeration_widened_in_response_breaks_readers(tmp_path: Path) -> None:
    result = diff(tmp_path, {COMMON: [('<xs:enumeration value="REJECTED"/>',
                                       '<xs:enumeration value="REJECTED"/>\n      <xs:enumeration value="CANCELLED"/>')]})
    change = only(result, "SubmitOrder output /status")
    assert (change.classification, change.category, change.new) == (BREAKING, "values-added", ["CANCELLED"])


def test_enumeration_narrowed_in_response_is_compatible(tmp_path: Path) -> None:
    result = diff(tmp_path, {COMMON: [('<xs:enumeration value="REJECTED"/>\n', "")]})
    change = only(result, "SubmitOrder output /status")
    assert (change.classification, change.category) == (COMPATIBLE, "values-removed")


def test_max_length_pattern_and_type(tmp_path: Path) -> None:
    result = diff(tmp_path, {
        WSDL: [('<xs:element name="remark" type="xs:string" minOccurs="0"/>',
                ('<xs:element name="remark" minOccurs="0"><xs:simpleType><xs:restriction base="xs:string">'
                '<xs:maxLength value="200"/></xs:restriction></xs:simpleType></xs:element>')),
               ('<xs:element name="quantity" type="xs:positiveInteger"/>', '<xs:element name="quantity" type="xs:string"/>')],
        COMMON: [('<xs:pattern value="[A-Z0-9]{8,20}"/>', '<xs:pattern value="[A-Z0-9]{10,20}"/>')],
    })
    length = only(result, "SubmitOrder input /order/remark")
    assert (length.classification, length.category, length.new) == (BREAKING, "length-changed", "200")
    pattern = only(result, "SubmitOrder input /order/orderNo")
    assert (pattern.classification, pattern.category) == (BREAKING, "pattern-changed")
    typed = only(result, "SubmitOrder input /order/item/quantity")
    assert (typed.classification, typed.category, typed.old, typed.new) == (BREAKING, "type-changed", "positiveInteger", "string")


def test_max_occurs_lowered_and_raised(tmp_path: Path) -> None:
    result = diff(tmp_path, {WSDL: [
        ('<xs:element name="item" type="tns:Item" maxOccurs="20"/>', '<xs:element name="item" type="tns:Item" maxOccurs="10"/>'),
        ('<xs:element name="recordId" type="xs:string" minOccurs="0" maxOccurs="10"/>',
         '<xs:element name="recordId" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>'),
    ]})
    item = only(result, "SubmitOrder input /order/item")
    assert (item.classification, item.old, item.new) == (BREAKING, "1..20", "1..10")
    # the children of item are repeated with it: their cardinality changes too, each reported
    assert at(result, "SubmitOrder input /order/item/aboGroup")[0].classification is BREAKING
    assert only(result, "UploadRecord output /recordId").classification is BREAKING


def test_complex_extension_choice_and_unknown_constructs(tmp_path: Path) -> None:
    result = diff(tmp_path, {WSDL: [
        ('<xs:complexType name="Order">\n        <xs:sequence>',
         ('<xs:complexType name="Base"><xs:sequence><xs:element name="site" type="xs:string"/></xs:sequence>'
         '</xs:complexType>\n      <xs:complexType name="Order">\n        <xs:complexContent><xs:extension base="tns:Base">'
         '<xs:sequence>')),
        ('<xs:element name="remark" type="xs:string" minOccurs="0"/>\n        </xs:sequence>\n      </xs:complexType>',
         ('<xs:element name="remark" type="xs:string" minOccurs="0"/>\n        </xs:sequence></xs:extension>'
         '</xs:complexContent>\n      </xs:complexType>')),
        ('<xs:element name="orderId" type="xs:string" minOccurs="0"/>',
         ('<xs:choice><xs:element name="orderId" type="xs:string"/><xs:element name="ref" type="xs:string"/></xs:choice>'
         '<xs:any namespace="##other" processContents="lax" minOccurs="0"/>')),
    ]})
    site = only(result, "SubmitOrder input /order/site")
    assert (site.classification, site.category) == (BREAKING, "field-added")  # inherited from the base type
    assert only(result, "SubmitOrder output /ref").classification is COMPATIBLE  # a choice branch: optional
    assert not [c for c in result.changes if c.location == "SubmitOrder output /orderId"]  # still 0..1
    unknown = only(result, "SubmitOrder output /*")
    assert (unknown.classification, unknown.category) == (INFO, "not-compared") and "xs:any" in unknown.message


def test_operations_action_auth_idempotency(tmp_path: Path) -> None:
    result = diff(tmp_path, {
        WSDL: [('soapAction="urn:hih:example:SubmitOrder"', 'soapAction="urn:hih:example:SubmitOrder2"')],
        YAML: [("soap_action: urn:hih:example:SubmitOrder\n", "soap_action: urn:hih:example:SubmitOrder2\n"),
               ("    idempotent: true\n", "    idempotent: false\n")],
    })
    action = only(result, "contract.yaml /operations/SubmitOrder/soap_action")
    assert (action.classification, action.category) == (BREAKING, "soap-action-changed")
    assert only(result, "contract.yaml /operations/SubmitOrder/idempotent").classification is BREAKING


def test_auth_requirement_dropped_is_compatible(tmp_path: Path) -> None:
    result = diff(tmp_path, {YAML: [("    idempotent: false\n", "    idempotent: false\n    auth: false\n")]})
    change = only(result, "contract.yaml /operations/UploadRecord/auth")
    assert (change.classification, change.old, change.new) == (COMPATIBLE, True, False)


def test_operation_removed_breaks_and_added_is_compatible(tmp_path: Path) -> None:
    wsdl = (EXAMPLE / WSDL).read_text(encoding="utf-8")
    start = wsdl.index("    <wsdl:operation name=\"UploadRecord\">\n      <soap:operation")
    end = wsdl.index("</wsdl:operation>", start) + len("</wsdl:operation>\n")
    yaml_text = (EXAMPLE / YAML).read_text(encoding="utf-8")
    upload = yaml_text[yaml_text.index("  UploadRecord:\n"):yaml_text.index("\ncode_tables:")]
    result = diff(tmp_path, {
        WSDL: [(wsdl[start:end], ""),
               (('    <wsdl:operation name="UploadRecord">\n      <wsdl:input message="tns:UploadRecordRequest"/>\n'
                '      <wsdl:output message="tns:UploadRecordReply"/>\n    </wsdl:operation>\n'), "")],
        YAML: [(upload, "")]})
    change = only(result, "contract.yaml /operations/UploadRecord")
    assert (change.classification, change.category) == (BREAKING, "operation-removed")
    assert not [c for c in result.changes if c.location.startswith("UploadRecord ")]
    assert result.changes[0].classification is BREAKING


def test_payload_record_types(tmp_path: Path) -> None:
    result = diff(tmp_path, {
        TYPES: [('<xs:enumeration value="9"/>\n', ""), ('<xs:maxInclusive value="8000"/>', '<xs:maxInclusive value="7000"/>')],
        BIRTH: [('<xs:element name="childName" type="xs:string"/>',
                 '<xs:element name="childName" type="xs:string" minOccurs="0"/>')],
    })
    sex = only(result, "payload BIRTH_NOTICE /BirthNotice/sex")
    assert (sex.classification, sex.category, sex.old, sex.part) == (BREAKING, "values-removed", ["9"], "payload")
    assert sex.operation == "UploadRecord" and sex.targets[0].side == "request"
    assert only(result, "payload SCREENING /Screening/sex").classification is BREAKING
    weight = only(result, "payload BIRTH_NOTICE /BirthNotice/birthWeight")
    assert (weight.classification, weight.category) == (BREAKING, "range-changed")
    assert only(result, "payload BIRTH_NOTICE /BirthNotice/childName").classification is COMPATIBLE


def cli(capsys: pytest.CaptureFixture[str], root: Path, tmp_path: Path, *args: str) -> tuple[int, str]:
    code = main(["contract", "diff", "example", "2025.1", "2025.2", "--contracts-dir", str(root),
                 "--history", str(tmp_path / "none.sqlite"), "--features", str(tmp_path / "features"), *args])
    return code, capsys.readouterr().out


def test_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    compatible = versions(tmp_path / "a", {WSDL: [('<xs:element name="orderId" type="xs:string" minOccurs="0"/>',
                                                    '<xs:element name="orderId" type="xs:string"/>')]})
    code, out = cli(capsys, compatible, tmp_path)
    assert code == 0, out
    assert out.splitlines()[0] == "example 2025.1 → 2025.2 (soap): 0 breaking, 1 compatible, 0 info"
    assert "  SubmitOrder output /orderId\n" in out

    breaking = versions(tmp_path / "b", {WSDL: [('<xs:element name="remark" type="xs:string" minOccurs="0"/>',
                                                  '<xs:element name="remark" type="xs:string"/>')]})
    code, out = cli(capsys, breaking, tmp_path, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert (doc["transport"], doc["breaking"], doc["counts"]["breaking"]) == ("soap", True, 1)
    change = doc["changes"][0]
    assert change == {**change, "classification": "breaking", "category": "cardinality-changed",
                      "location": "SubmitOrder input /order/remark", "operation": "SubmitOrder", "part": "input",
                      "pointer": "/order/remark", "side": "request", "old": "0..1", "new": "1..1", "impacted": []}
