"""Validating SOAP messages against the example contract: findings with severity, XPath-like location and message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from lxml import etree

from harness.cli import main
from harness.contract.findings import Finding, Severity
from harness.contract.model import Contract
from harness.contract.soap import spec_of
from harness.contract.soap_validate import SoapValidator, location_of
from harness.contract.soap_wsdl import local_name
from harness.contract.validate import validate_capture
from tests.contracts.soap.conftest import EXAMPLE
from tests.strategies import examples
from tests.xml_trees import xml_trees

CAPTURES = Path(__file__).resolve().parents[2] / "data" / "soap" / "captures"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
AUTH = '<ex:AuthHeader><ex:HospitalCode>H33010600001</ex:HospitalCode><ex:Token>t</ex:Token></ex:AuthHeader>'
ORDER = ("<ex:SubmitOrder><ex:order><ex:orderNo>ORD12345678</ex:orderNo><ex:urgency>ROUTINE</ex:urgency>"
         "<ex:wantedAt>2025-01-01T10:00:00</ex:wantedAt><ex:item><ex:productCode>E0001</ex:productCode>"
         "<ex:aboGroup>B</ex:aboGroup><ex:quantity>1</ex:quantity></ex:item></ex:order></ex:SubmitOrder>")


def envelope(body: str, header: str | None = AUTH, ns: str = SOAP11) -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header is not None else ""
    return f'<s:Envelope xmlns:s="{ns}" xmlns:ex="urn:hih:example:service">{head}<s:Body>{body}</s:Body></s:Envelope>'.encode()


def at(findings: list[Finding], location: str) -> Finding:
    found = [f for f in findings if f.location == location]
    assert found, f"no finding at {location}; got {[str(f) for f in findings]}"
    return found[0]


@pytest.fixture(scope="module")
def validator(example: Contract) -> SoapValidator:
    return SoapValidator(example)


# -- requests ---------------------------------------------------------------------------------------------------
def test_a_valid_request_has_no_findings(validator: SoapValidator) -> None:
    checked = validator.validate_request((CAPTURES / "submit-order-request.xml").read_bytes(), '"urn:hih:example:SubmitOrder"')
    assert (checked.kind, checked.operation, checked.findings) == ("request", "SubmitOrder", [])


def test_xsd_errors_are_located_with_indexes_for_repeats(validator: SoapValidator) -> None:
    checked = validator.validate_request((CAPTURES / "submit-order-request-invalid.xml").read_bytes())
    assert checked.operation == "SubmitOrder"
    assert [f.location for f in checked.findings] == [
        "/Envelope/Body/SubmitOrder/order/urgency",
        "/Envelope/Body/SubmitOrder/order/wantedAt",
        "/Envelope/Body/SubmitOrder/order/item[2]/aboGroup",
        "/Envelope/Body/SubmitOrder/order/item[3]/quantity",
    ]
    assert all(f.severity is Severity.ERROR and f.rule == "xsd" for f in checked.findings)
    first = checked.findings[0].message
    assert first == "[facet 'enumeration'] The value 'SOON' is not an element of the set {'ROUTINE', 'URGENT', 'EMERGENCY'}"
    assert "Expected is ( aboGroup )" in checked.findings[3].message


def test_a_missing_required_element_points_at_where_it_belongs(validator: SoapValidator) -> None:
    checked = validator.validate_request(envelope(ORDER.replace("<ex:quantity>1</ex:quantity>", "")))
    assert at(checked.findings, "/Envelope/Body/SubmitOrder/order/item/quantity").message.startswith("Missing child element(s)")


def test_an_attribute_error_is_located_at_the_attribute(validator: SoapValidator) -> None:
    checked = validator.validate_request(envelope(ORDER.replace("<ex:order>", '<ex:order priority="high">')))
    assert at(checked.findings, "/Envelope/Body/SubmitOrder/order/@priority").rule == "xsd"


def test_the_auth_header_is_required_and_validated(validator: SoapValidator) -> None:
    missing = validator.validate_request(envelope(ORDER, header=None))
    assert at(missing.findings, "/Envelope").rule == "auth"
    assert "AuthHeader header (HospitalCode, Token) is missing" in at(missing.findings, "/Envelope").message
    bad = validator.validate_request(envelope(ORDER, header=AUTH.replace("H33010600001", "X1")))
    assert at(bad.findings, "/Envelope/Header/AuthHeader/HospitalCode").rule == "xsd"
    checked = validator.check_request(etree.fromstring(envelope(ORDER)))
    assert validator.credentials(checked) == {"HospitalCode": "H33010600001", "Token": "t"}


def test_an_undeclared_header_with_must_understand_is_an_error(validator: SoapValidator) -> None:
    extra = f'{AUTH}<x:Trace xmlns:x="urn:other" s:mustUnderstand="1">1</x:Trace><x:Note xmlns:x="urn:other">ok</x:Note>'
    checked = validator.validate_request(envelope(ORDER, header=extra))
    assert [f.rule for f in checked.findings] == ["must-understand"]
    assert checked.findings[0].location == "/Envelope/Header/Trace"


@pytest.mark.parametrize(("action", "operation", "rule"), [
    ('"urn:hih:example:SubmitOrder"', "SubmitOrder", None),
    ("", "SubmitOrder", None),
    ("urn:hih:example:UploadRecord", "SubmitOrder", "soap-action"),
    ("urn:hih:example:Nothing", "SubmitOrder", "soap-action"),
])
def test_the_operation_comes_from_soapaction_and_body(validator: SoapValidator, action: str, operation: str, rule: str | None) -> None:
    checked = validator.validate_request(envelope(ORDER), action)
    assert checked.operation == operation
    assert [f.rule for f in checked.findings] == ([rule] if rule else [])
    if rule:
        assert checked.findings[0].location == "SOAPAction"


@pytest.mark.parametrize(("raw", "location", "words"), [
    (b"<Envelope/>", "/Envelope", "not a SOAP envelope"),
    (envelope(ORDER + ORDER), "/Envelope/Body", "exactly one element"),
    (envelope(""), "/Envelope/Body", "exactly one element"),
    (envelope(ORDER, ns=SOAP12), "/Envelope", "SOAP 1.2 envelope, but the binding is SOAP 1.1"),
    (envelope("<ex:SubmitOrderResponse/>"), "/Envelope/Body/SubmitOrderResponse", "is a response element, not a request"),
    (envelope("<ex:Nothing/>"), "/Envelope/Body/Nothing", "not the request element of any operation"),
    (f'<s:Envelope xmlns:s="{SOAP11}"><s:Body>{ORDER}</s:Body><s:Header/></s:Envelope>'.encode(), "/Envelope", "optional Header then a Body"),
])
def test_envelope_problems(validator: SoapValidator, raw: bytes, location: str, words: str) -> None:
    checked = validator.validate_request(raw.replace(b"<s:Envelope", b'<s:Envelope xmlns:ex="urn:hih:example:service"', 1)
                                         if b"xmlns:ex" not in raw else raw)
    assert words in at(checked.findings, location).message


def test_a_soapaction_whose_operation_carries_another_element(validator: SoapValidator) -> None:
    checked = validator.validate_request(envelope("<ex:Nothing/>"), "urn:hih:example:SubmitOrder")
    assert checked.operation == "SubmitOrder"
    assert [(f.location, f.message) for f in checked.findings] == [("/Envelope/Body/Nothing", "SubmitOrder carries SubmitOrder, not Nothing")]


def test_unparseable_and_hostile_documents_become_one_finding(validator: SoapValidator) -> None:
    broken = validator.validate_request(b"<s:Envelope>")
    assert broken.findings[0].rule == "xml-syntax" and broken.findings[0].location == ""
    xxe = validator.validate_request((CAPTURES / "xxe.xml").read_bytes())
    assert [(f.rule, f.message) for f in xxe.findings] == [("xml-doctype", "a DOCTYPE (DTD) is not allowed (line 2)")]
    big = validator.validate_request(b"<a>" + b" " * spec_of(validator.contract).max_bytes + b"</a>")
    assert big.findings[0].rule == "xml-size"


# -- payloads ---------------------------------------------------------------------------------------------------
def test_string_payloads_are_validated_against_their_own_xsd(validator: SoapValidator) -> None:
    good = validator.validate_request((CAPTURES / "upload-record-request.xml").read_bytes())
    assert good.findings == [] and [p.type for p in good.payloads] == ["BIRTH_NOTICE", "BIRTH_NOTICE"]
    assert good.payloads[0].root is not None and good.payloads[0].root.findtext("{urn:hih:example:records}childName") == "王小明"

    bad = validator.validate_request((CAPTURES / "upload-record-request-bad-payload.xml").read_bytes())
    assert [p.type for p in bad.payloads] == ["BIRTH_NOTICE", "BIRTH_NOTICE", "SCREENING"], "chosen by root without recordType"
    assert [p.valid for p in bad.payloads] == [True, False, False]
    assert [f.location for f in bad.findings] == [
        "/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/sex",
        "/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/birthDate",
        "/Envelope/Body/UploadRecord/payload[2]#/BirthNotice/birthWeight",
        "/Envelope/Body/UploadRecord/payload[3]#/Screening/test[2]/result",
    ]
    assert {f.rule for f in bad.findings} == {"payload"}


def upload(*payloads: str, record_type: str | None = None) -> bytes:
    kind = f"<ex:recordType>{record_type}</ex:recordType>" if record_type else ""
    items = "".join(f"<ex:payload><![CDATA[{p}]]></ex:payload>" for p in payloads)
    return envelope(f"<ex:UploadRecord>{kind}{items}</ex:UploadRecord>")


SCREENING = '<Screening xmlns="urn:hih:example:records"><recordNo>N1</recordNo><sex>1</sex><test><code>PKU</code><result>-</result></test></Screening>'


@pytest.mark.parametrize(("raw", "location", "rule", "words"), [
    (upload(SCREENING, record_type="BIRTH_NOTICE"), "/Envelope/Body/UploadRecord/payload#/Screening", "payload-type",
     "record type BIRTH_NOTICE has root BirthNotice, not Screening"),
    (upload(SCREENING, record_type="DEATH"), "/Envelope/Body/UploadRecord/recordType", "payload-type", "unknown record type 'DEATH'"),
    (upload("<Other/>"), "/Envelope/Body/UploadRecord/payload#/Other", "payload-type", "not a record type of this operation"),
    (upload(SCREENING.replace('xmlns="urn:hih:example:records"', 'xmlns="urn:other"')), "/Envelope/Body/UploadRecord/payload#/Screening",
     "payload-type", "not a record type"),
    (upload("not xml at all"), "/Envelope/Body/UploadRecord/payload", "xml-syntax", "payload: not well-formed XML"),
    (upload(" "), "/Envelope/Body/UploadRecord/payload", "payload", "empty payload"),
    (upload('<!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><Screening>&e;</Screening>'), "/Envelope/Body/UploadRecord/payload",
     "xml-doctype", "DOCTYPE"),
])
def test_payload_problems(validator: SoapValidator, raw: bytes, location: str, rule: str, words: str) -> None:
    checked = validator.validate_request(raw)
    finding = at(checked.findings, location)
    assert finding.rule == rule and words in finding.message


def test_a_record_type_field_selects_the_schema(validator: SoapValidator) -> None:
    checked = validator.validate_request(upload(SCREENING, SCREENING, record_type="SCREENING"))
    assert checked.findings == [] and [p.type for p in checked.payloads] == ["SCREENING", "SCREENING"]


# -- responses and faults -----------------------------------------------------------------------------------------
def test_responses_are_validated_and_result_codes_checked(validator: SoapValidator) -> None:
    ok = validator.validate_response((CAPTURES / "submit-order-response.xml").read_bytes(), "SubmitOrder")
    assert (ok.kind, ok.operation, ok.findings) == ("response", "SubmitOrder", [])
    odd = validator.validate_response((CAPTURES / "submit-order-response-unknown-code.xml").read_bytes())
    assert [(f.severity, f.location, f.rule) for f in odd.findings] == [
        (Severity.WARNING, "/Envelope/Body/SubmitOrderResponse/ResultCode", "result-code"),
        (Severity.WARNING, "/Envelope/Body/SubmitOrderResponse/ResultMessage", "result-message"),
    ]
    wrong = validator.validate_response((CAPTURES / "submit-order-response.xml").read_bytes(), "UploadRecord")
    assert "answers SubmitOrder, not UploadRecord" in wrong.findings[0].message


def test_faults_are_recognised_and_checked(validator: SoapValidator) -> None:
    fault = validator.validate_response((CAPTURES / "fault.xml").read_bytes())
    assert (fault.kind, fault.fault_code, fault.fault_string, fault.findings) == ("fault", "soap:Client.Auth", "医院编码或令牌无效", [])
    empty = validator.validate_response(envelope("<s:Fault/>", header=None))
    assert [f.location for f in empty.findings] == ["/Envelope/Body/Fault/faultcode", "/Envelope/Body/Fault/faultstring"]


def test_soap_1_2_envelopes_and_faults(example12: Contract) -> None:
    validator = SoapValidator(example12)
    assert validator.validate_request(envelope(ORDER, ns=SOAP12)).findings == []
    old = validator.validate_request(envelope(ORDER))
    assert old.findings[0].rule == "version"
    fault = validator.validate_response(envelope("<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code>"
                                                 "<s:Reason><s:Text xml:lang='zh'>错</s:Text></s:Reason></s:Fault>", None, SOAP12))
    assert (fault.kind, fault.fault_code, fault.findings) == ("fault", "s:Sender", [])


def test_location_of_counts_same_named_siblings_only() -> None:
    root = etree.fromstring(b"<a><b/><c><d/></c><c><d/><d/><e/></c></a>")
    assert [location_of(e) for e in root.iter()] == ["/a", "/a/b", "/a/c[1]", "/a/c[1]/d", "/a/c[2]", "/a/c[2]/d[1]", "/a/c[2]/d[2]", "/a/c[2]/e"]


# -- captured files, `hih validate` ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kind", "operation"), [
    ("submit-order-request.xml", "request", "SubmitOrder"),
    ("submit-order-response.xml", "response", "SubmitOrder"),
    ("submit-order-body.xml", "request", "SubmitOrder"),
    ("upload-record-request.xml", "request", "UploadRecord"),
    ("birth-notice.xml", "payload", "BIRTH_NOTICE"),
    ("fault.xml", "fault", None),
])
def test_captures_of_every_kind(example: Contract, name: str, kind: str, operation: str | None) -> None:
    checked = validate_capture(example, (CAPTURES / name).read_bytes())
    assert (checked.kind, checked.operation, checked.findings) == (kind, operation, [])


def test_hih_validate_prints_findings_and_exits_1_on_errors(capsys: pytest.CaptureFixture[str]) -> None:
    files = [CAPTURES / "submit-order-request.xml", CAPTURES / "birth-notice-invalid.xml", CAPTURES / "upload-record-request-bad-payload.xml"]
    code = main(["validate", "--interface", "example", "--contracts-dir", str(EXAMPLE.parents[1]), *map(str, files)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert f"{files[0]}: ok request SubmitOrder" in out
    assert f"{files[1]}: ERROR /BirthNotice/sex This element is not expected. Expected is ( childName )" in out
    assert (f"{files[2]}: ERROR /Envelope/Body/UploadRecord/payload[2]#/BirthNotice/birthWeight "
            "[facet 'minInclusive'] The value '120' is less than the minimum value allowed ('300')") in out


def test_hih_validate_exits_0_when_all_are_valid_and_refuses_hostile_files(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["validate", "--interface", "example", "--contract-version", "2025.1", "--contracts-dir", str(EXAMPLE.parents[1])]
    assert main([*args, str(CAPTURES / "birth-notice.xml"), str(CAPTURES / "submit-order-response-unknown-code.xml")]) == 0
    assert "WARNING /Envelope/Body/SubmitOrderResponse/ResultCode" in capsys.readouterr().out
    assert main([*args, str(CAPTURES / "xxe.xml")]) == 1
    assert capsys.readouterr().out.strip() == f"{CAPTURES / 'xxe.xml'}: ERROR / a DOCTYPE (DTD) is not allowed (line 2)"


def _location_by_scan(element: etree._Element) -> str:
    """`location_of` as first written: each parent's children scanned in Python for the same tag."""
    steps = []
    node: etree._Element | None = element
    while node is not None:
        name = local_name(node.tag)
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        steps.append(name)
        node = parent
    return "/" + "/".join(reversed(steps))


@given(tree=xml_trees(roots=("Envelope", "{urn:a}Envelope"), names=("Body", "payload", "item", "x"),
                      namespaces=("urn:a", "urn:b", ""), max_elements=30))
@settings(max_examples=examples(200), deadline=None)
def test_location_of_matches_a_scan_of_the_siblings(tree: etree._Element) -> None:
    """Same-named siblings counted by lxml's iterators give the path a scan of every parent's children gives, with
    namespaces and no namespace, repeats, nesting and comments among the siblings."""
    for element in tree.iter(etree.Element):
        assert location_of(element) == _location_by_scan(element)
